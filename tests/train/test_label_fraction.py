"""``data.label_fraction``: fewer training labels, the same validation and test cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medtl.errors import ConfigError
from medtl.train import train
from medtl.train.config import load_config

from .helpers import tiny_config


def test_label_fraction_trains_on_a_subset_and_keeps_val_test(npz_2d, tmp_path):
    full = train(tiny_config(npz_2d, tmp_path / "full", epochs=1))
    part = train(tiny_config(npz_2d, tmp_path / "part", epochs=1,
                             extra=("data.label_fraction=0.25", "data.label_seed=3")))
    info_full = json.loads((full.run_dir / "model.json").read_text())["training"]["data"]
    info_part = json.loads((part.run_dir / "model.json").read_text())["training"]["data"]
    assert info_full["counts"]["train"] == 48 and info_part["counts"]["train"] == 12
    assert info_part["counts"]["val"] == info_full["counts"]["val"] == 16
    assert info_part["counts"]["test"] == info_full["counts"]["test"] == 16
    assert info_part["label_fraction"] == {"fraction": 0.25, "seed": 3, "n_train_full": 48}
    assert info_part["fingerprint"] != info_full["fingerprint"] and "label_fraction" not in info_full
    # the per-case test outputs: same test cases in the same order, so runs pair case by case
    with np.load(full.run_dir / "test_cases.npz") as a, np.load(part.run_dir / "test_cases.npz") as b:
        assert a["probs"].shape == b["probs"].shape == (16, 2)
        assert (a["labels"] == b["labels"]).all()


def test_segmentation_writes_per_case_dice(seg2d_manifest, tmp_path):
    run = train(tiny_config(seg2d_manifest, tmp_path / "seg", task="segmentation", epochs=1,
                            extra=("data.label_fraction=0.5",)))
    with np.load(run.run_dir / "test_cases.npz") as z:
        assert z["dice"].shape == (8, 1)
        assert np.nanmean(z["dice"]) == pytest.approx(run.metrics["test"]["dice"], abs=1e-5)


def test_bad_label_fraction_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="label_fraction"):
        load_config(overrides=["data.label_fraction=0"])
