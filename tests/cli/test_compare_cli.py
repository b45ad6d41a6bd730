"""`medtl compare` through the console entry point: help, and one-line errors before any training."""

from __future__ import annotations

import numpy as np
import pytest

from medtl.cli.main import main


def test_help_shows_an_example(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "medtl compare --data" in out and "pretrained:" in out and "--budget-minutes" in out


@pytest.mark.parametrize("args, message", [
    (["--arms", "transfer"], "unknown arm 'transfer'"),
    (["--arms", "a=scratch", "a=scratch:epochs=2"], "used twice"),
    (["--fractions", "0,1"], "fractions must be in (0, 1]"),
    (["--fractions", "ten"], "--fractions expects numbers"),
    (["--seeds", "0"], "--seeds must be >= 1"),
    (["--budget-minutes", "-1"], "--budget-minutes must be > 0"),
])
def test_bad_arguments_are_one_line_errors(args, message, tmp_path, capsys):
    data = tmp_path / "d.npz"
    np.savez(data, train_images=np.zeros((4, 8, 8), np.uint8), train_labels=np.zeros((4, 1), np.uint8))
    code = main(["compare", "--data", str(data), "--out", str(tmp_path / "out"), "--set", "model.encoder=tiny", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing written for a refused comparison


def test_data_problems_are_reported_before_training(tmp_path, capsys):
    data = tmp_path / "d.npz"
    np.savez(data, train_images=np.zeros((4, 8, 8), np.uint8), train_labels=np.zeros((4, 1), np.uint8))
    code = main(["compare", "--data", str(data), "--out", str(tmp_path / "out"), "--set", "model.encoder=tiny"])
    err = capsys.readouterr().err
    assert code == 1 and "lacks arrays" in err and "d.npz" in err
    assert not (tmp_path / "out").exists()


def test_an_existing_folder_needs_resume(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    code = main(["compare", "--data", str(tmp_path / "x.npz"), "--out", str(tmp_path / "out"),
                 "--set", "model.encoder=tiny"])
    err = capsys.readouterr().err
    assert code == 2 and "is not empty; pass --resume" in err
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


def test_compare_on_an_msd_folder_infers_segmentation(msd_folder, tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(["compare", "--data", str(msd_folder), "--out", str(out), "--arms", "scratch", "--fractions", "1",
                 "--seeds", "1", "--bootstrap", "100", "--quiet", "--set", "model.encoder=tiny", "--set", "epochs=1",
                 "--set", "preprocess.image_size=16", "--set", "batch_size=2", "--set", "device=cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    import json

    results = json.loads((out / "results.json").read_text())
    assert results["task"] == "segmentation" and results["metric"] == "dice" and len(results["runs"]) == 1
    assert "--task segmentation" in results["runs"][0]["command"]
