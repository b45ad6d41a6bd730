"""`medtl train` and `medtl evaluate` through the console entry point."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medtl.cli.main import main


@pytest.fixture
def npz_2d(tmp_path):
    """MedMNIST-style npz: 32 px noise, label 1 = a bright square."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 48), ("val", 16), ("test", 16)):
        labels = np.arange(n) % 2
        images = rng.normal(60, 12, (n, 32, 32))
        for i in np.flatnonzero(labels):
            r, c = rng.integers(4, 20, 2)
            images[i, r:r + 8, c:c + 8] += 120
        arrays[f"{split}_images"] = np.clip(images, 0, 255).astype(np.uint8)
        arrays[f"{split}_labels"] = labels.reshape(-1, 1).astype(np.uint8)
    path = tmp_path / "blobs.npz"
    np.savez(path, **arrays)
    return path


def _train_args(data, out, *extra):
    return ["train", "--data", str(data), "--out", str(out), "--task", "classification", "--encoder", "tiny",
            "--weights", "none", "--strategy", "scratch", "--epochs", "2", "--image-size", "32", "--quiet",
            "--set", "optim.lr=0.01", "--set", "batch_size=8", *extra]


def test_train_then_evaluate_json(npz_2d, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_train_args(npz_2d, out)) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["run_dir"] == str(out) and summary["test"]["auc"] is not None
    assert main(["evaluate", "--model", str(out), "--data", str(npz_2d), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    stored = json.loads((out / "metrics.json").read_text())["test"]
    assert metrics["split"] == "test" and metrics["auc"] == pytest.approx(stored["auc"])
    assert metrics["accuracy"] == pytest.approx(stored["accuracy"])
    assert main(["evaluate", "--model", str(out), "--data", str(npz_2d), "--split", "val"]) == 0
    assert "balanced_accuracy" in capsys.readouterr().out


def test_usage_and_data_errors_are_one_line(npz_2d, tmp_path, capsys):
    assert main(_train_args(npz_2d, tmp_path / "a", "--set", "optim.lrr=1")) == 2
    err = capsys.readouterr().err
    assert "optim.lrr" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    missing = tmp_path / "nope.csv"
    assert main(_train_args(missing, tmp_path / "b")) == 1
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err
    assert main(["evaluate", "--model", str(tmp_path / "no_model"), "--data", str(npz_2d)]) == 1
    assert "no_model" in capsys.readouterr().err


def test_evaluate_tta_flags(npz_2d, tmp_path, capsys):
    from medtl.data import PreprocessConfig
    from medtl.models import ModelConfig, build_model, save_model_dir

    cfg = ModelConfig(task="classification", encoder="tiny", weights="none", spatial_dims=2, in_channels=1,
                      num_classes=2)
    model = tmp_path / "model2d"
    save_model_dir(model, build_model(cfg).eval(), model_cfg=cfg, label_names=["0", "1"],
                   preprocess=PreprocessConfig(spatial_dims=2, image_size=(32, 32), intensity="uint8"))
    base = ["evaluate", "--model", str(model), "--data", str(npz_2d)]
    assert main([*base, "--tta", "--tta-axes", "5"]) == 2
    err = capsys.readouterr().err
    assert "5 is not a spatial axis of a 2D model (use 0..1)" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert main([*base, "--tta-axes", "0"]) == 2  # without --tta
    assert "needs --tta" in capsys.readouterr().err
    assert main([*base, "--tta", "--tta-axes", "1", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["tta"] is True and metrics["tta_axes"] == [1] and metrics["auc"] is not None


def test_help_lists_flags(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for flag in ("--data", "--strategy", "--set", "--resume", "--init-from", "--image-size", "--device"):
        assert flag in text
