"""bench/common.py: hand-written page notes survive a re-render; recorded commands read the same
from any checkout."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402


def test_page_notes_are_appended_on_every_write(tmp_path):
    docs = tmp_path / "docs"
    common.write_results(docs, "demo", {"v": 1}, "# Demo\n\n| a |\n|---|\n| 1 |\n")
    assert (docs / "demo.md").read_text() == "# Demo\n\n| a |\n|---|\n| 1 |\n"  # no notes file: page as is

    (docs / "notes").mkdir()
    (docs / "notes" / "demo.md").write_text("\nNotes: seed 1 was resumed.\n\n")
    for value in (2, 3):  # a re-render (e.g. --merge) keeps the notes, exactly once
        common.write_results(docs, "demo", {"v": value}, f"# Demo\n\n| a |\n|---|\n| {value} |\n\n")
        page = (docs / "demo.md").read_text()
        assert page == f"# Demo\n\n| a |\n|---|\n| {value} |\n\nNotes: seed 1 was resumed.\n"
    assert not (docs / "notes" / "other.md").exists()
    common.write_results(docs, "other", {}, "# Other\n")  # another page does not get them
    assert "resumed" not in (docs / "other.md").read_text()


def test_commands_name_repository_and_shared_paths_relatively_and_work_folders_absolutely(tmp_path):
    work = tmp_path / "work" / "runs" / "seed0"
    config = common.CONFIGS / "breastmnist.yaml"
    data = common.DATA / "breastmnist" / "breastmnist.npz"
    cmd = common.cli_command(config, data, work, ["seed=1", "optim.lr=0.001", "data.path=x"])
    parts = cmd.split()
    assert parts[parts.index("--config") + 1] == "configs/breastmnist.yaml"
    # ../shared/data whether or not the folder exists here (it is a symlink on some machines)
    data_arg = parts[parts.index("--data") + 1]
    assert data_arg in ("../shared/data/breastmnist/breastmnist.npz", str(data))
    if data.exists():
        assert data_arg == "../shared/data/breastmnist/breastmnist.npz"
    assert parts[parts.index("--out") + 1] == str(work)
    assert "--seed 1" in cmd and "--set optim.lr=0.001" in cmd and "data.path" not in cmd

    outside = tmp_path / "subset.npz"
    outside.write_bytes(b"")
    cmd = common.cli_command(config, outside, work, [])
    assert f"--data {outside.resolve()}" in cmd  # absolute, never ../../tmp/...
