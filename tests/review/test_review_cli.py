from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from medtl.cli.main import main
from medtl.cli.review import streamlit_command
from medtl.review.actions import decide
from medtl.review.scores import load_scores
from medtl.review.store import DecisionStore

REPO = Path(__file__).resolve().parents[2]


def test_review_refuses_a_bad_scores_folder_with_exit_2(tmp_path, capsys):
    assert main(["review", "--scores", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "scoring output folder not found" in err[0] and "nothing" in err[0]
    (tmp_path / "empty").mkdir()
    assert main(["review", "--scores", str(tmp_path / "empty")]) == 2
    assert "run_manifest.json" in capsys.readouterr().err


def test_review_refuses_a_database_in_a_missing_folder(cls3, tmp_path, capsys):
    assert main(["review", "--scores", str(cls3), "--db", str(tmp_path / "no" / "r.sqlite")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_streamlit_command_is_local_headless_and_private(tmp_path):
    cmd = streamlit_command(tmp_path / "out", tmp_path / "r.sqlite", port=8600, host="127.0.0.1")
    opts = dict(zip(cmd[::1], cmd[1:]))
    assert opts["--server.headless"] == "true" and opts["--browser.gatherUsageStats"] == "false"
    assert opts["--server.address"] == "127.0.0.1" and opts["--server.port"] == "8600"
    assert cmd[cmd.index("--") + 1:] == ["--scores", str(tmp_path / "out"), "--db", str(tmp_path / "r.sqlite")]
    assert Path(cmd[cmd.index("run") + 1]) == REPO / "apps" / "review_app.py"


def test_reviews_export_and_audit(cls3, tmp_path, capsys):
    run = load_scores(cls3)
    db = tmp_path / "r.sqlite"
    store = DecisionStore(db)
    for case_id in sorted(run.cases)[:2]:
        decide(store, run, case_id, reviewer="Dr A", action="accept")
    assert main(["reviews", "export", "--db", str(db), "--scores", str(cls3), "--out", str(tmp_path / "m.csv")]) == 0
    assert main(["reviews", "audit", "--db", str(db), "--out", str(tmp_path / "a.csv")]) == 0
    assert "wrote 2 reviewed cases" in capsys.readouterr().out
    with open(tmp_path / "a.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 2
    assert main(["reviews", "audit", "--db", str(tmp_path / "x.sqlite"), "--out", str(tmp_path / "b.csv")]) == 1
    assert "review database not found" in capsys.readouterr().err


def test_review_modules_do_not_import_torch():
    code = ("import sys, medtl.review, medtl.review.viewer, medtl.review.worklist, medtl.review.presets, "
            "medtl.review.sample, medtl.cli.review, medtl.cli.reviews; "
            "import streamlit, pandas; bad = [m for m in ('torch', 'monai') if m in sys.modules]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
