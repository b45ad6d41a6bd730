"""bench/common.py: hand-written page notes survive a re-render; recorded commands read the same
from any checkout; arms are medtl compare arm specs."""

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
    assert common.shown(common.CONFIGS / "breastmnist.yaml") == "configs/breastmnist.yaml"
    data = common.DATA / "breastmnist" / "breastmnist.npz"
    # ../shared/data whether or not the folder exists here (it is a symlink on some machines)
    assert common.shown(data) in ("../shared/data/breastmnist/breastmnist.npz", str(data.resolve()))
    if data.exists():
        assert common.shown(data) == "../shared/data/breastmnist/breastmnist.npz"
    (tmp_path / "work").mkdir()
    outside = tmp_path / "work" / ".." / "subset.npz"
    outside.write_bytes(b"")
    assert common.shown(outside) == str((tmp_path / "subset.npz").resolve())  # absolute, never ../../tmp/...
    assert common.shown("not/here.npz") == "not/here.npz"  # not a path here: as given


def test_arm_specs_are_medtl_compare_arms():
    from medtl.compare.arms import parse_arms
    from medtl.train import load_config

    spec = common.arm_spec("probe-224", "linear-probe", "augment.enabled=false", "preprocess.image_size=224", seeds=1)
    assert spec == "probe-224=linear-probe:augment.enabled=false:preprocess.image_size=224:seeds=1"
    assert common.arm_name(spec) == "probe-224"
    (arm,) = parse_arms([spec], load_config())
    assert (arm.name, arm.seeds) == ("probe-224", 1)
    assert arm.overrides == ("strategy=linear-probe", "augment.enabled=false", "preprocess.image_size=224")
