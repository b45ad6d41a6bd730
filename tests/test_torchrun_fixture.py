"""The ``torchrun`` fixture (conftest.py) reruns a launch once on gloo's teardown abort only."""

from __future__ import annotations

import textwrap

from conftest import GLOO_TEARDOWN_ABORT

# The first launch writes its output, prints the abort and fails; the second one succeeds.
SCRIPT = textwrap.dedent(f"""
    import pathlib, sys
    tries = pathlib.Path(sys.argv[1])
    out = pathlib.Path(sys.argv[2])
    out.mkdir(exist_ok=False)  # the retry must start from a removed output folder
    n = int(tries.read_text()) + 1 if tries.exists() else 1
    tries.write_text(str(n))
    if n == 1 or sys.argv[3] == "always":
        print({GLOO_TEARDOWN_ABORT!r}, file=sys.stderr)
        sys.exit(1)
""")


def _launch(torchrun, tmp_path, mode):
    script, tries, out = tmp_path / "worker.py", tmp_path / "tries", tmp_path / "out"
    script.write_text(SCRIPT)
    return torchrun([script, tries, out, mode], nproc=1, cwd=tmp_path, timeout=120, fresh=[out]), tries


def test_teardown_abort_is_rerun_once(torchrun, tmp_path):
    proc, tries = _launch(torchrun, tmp_path, "once")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert tries.read_text() == "2"


def test_repeated_abort_fails(torchrun, tmp_path):
    proc, tries = _launch(torchrun, tmp_path, "always")
    assert proc.returncode != 0 and tries.read_text() == "2"
