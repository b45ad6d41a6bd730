"""`medtl select` command line."""

from __future__ import annotations

import csv
import subprocess
import sys

from medtl.cli.main import main


def test_select_prints_table_and_writes_csv(tmp_path, capsys, write_predictions, pred_row):
    row = pred_row
    scores = write_predictions(tmp_path / "out", [row("x1", 0.3, 0.8), row("x2", 0.7, 0.6), row("x3", 0.1, 0.9)])
    out = tmp_path / "next.csv"
    rc = main(["select", "--scores", str(scores), "--budget", "2", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0
    lines = captured.out.strip().splitlines()
    assert lines[0].split() == ["rank", "case_id", "predicted_label", "uncertainty", "flags", "source"]
    assert lines[1].split()[:2] == ["1", "x2"] and lines[2].split()[:2] == ["2", "x1"]
    with open(out) as fh:
        assert [r["case_id"] for r in csv.DictReader(fh)] == ["x2", "x1"]


def test_select_flags_first(tmp_path, capsys, write_predictions):
    header = ["case_id", "source", "volume_ml_a", "confidence", "uncertainty", "flags", "status"]
    rows = [{"case_id": c, "source": f"{c}.nii.gz", "volume_ml_a": 1, "confidence": 1 - u, "uncertainty": u,
             "flags": f, "status": "ok"} for c, u, f in (("s1", 0.2, "empty"), ("s2", 0.8, ""))]
    scores = write_predictions(tmp_path / "out", rows, header=header)
    assert main(["select", "--scores", str(scores), "--budget", "2", "--strategy", "flags-first"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[1].split()[:2] == ["1", "s1"] and "empty" in lines[1] and lines[2].split()[:2] == ["2", "s2"]


def test_select_random_and_short_budget(tmp_path, capsys, write_predictions, pred_row):
    row = pred_row
    scores = write_predictions(tmp_path / "out", [row("x1", 0.3, 0.8), row("x2", 0.7, 0.6)])
    assert main(["select", "--scores", str(scores), "--budget", "5", "--strategy", "random", "--seed", "3"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.strip().splitlines()) == 3
    assert "only 2 eligible" in captured.err


def test_usage_errors_exit_2(tmp_path, capsys, write_predictions, pred_row):
    row = pred_row
    assert main(["select", "--scores", str(tmp_path), "--budget", "3"]) == 2
    err = capsys.readouterr().err
    assert "predictions.csv" in err and str(tmp_path) in err and "Traceback" not in err
    scores = write_predictions(tmp_path / "out", [row("x1", 0.3, 0.8)])
    assert main(["select", "--scores", str(scores), "--budget", "0"]) == 2
    assert main(["select", "--scores", str(scores), "--budget", "1", "--db", str(tmp_path / "no.sqlite")]) == 2
    try:
        main(["select", "--scores", str(scores), "--budget", "1", "--strategy", "bogus"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("argparse accepted an unknown strategy")


def test_selection_does_not_import_torch():
    code = "import sys, medtl.continual.select, medtl.cli.select; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
