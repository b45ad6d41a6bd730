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


def test_all_the_labels_is_the_plain_run_whatever_the_label_seed(npz_2d, tmp_path):
    """medtl compare's runs at the fraction 1 add data.label_fraction=1 and a label_seed to the command:
    the same data fingerprint, training items and model as a run without them."""
    plain = train(tiny_config(npz_2d, tmp_path / "plain", epochs=1))
    full = train(tiny_config(npz_2d, tmp_path / "full", epochs=1,
                             extra=("data.label_fraction=1", "data.label_seed=7")))
    info_plain, info_full = (json.loads((r.run_dir / "model.json").read_text())["training"]["data"]
                             for r in (plain, full))
    assert info_full == info_plain and "label_fraction" not in info_full  # fingerprint, counts
    with np.load(plain.run_dir / "test_cases.npz") as a, np.load(full.run_dir / "test_cases.npz") as b:
        np.testing.assert_array_equal(a["probs"], b["probs"])
    assert full.metrics["test"] == plain.metrics["test"]


def test_segmentation_writes_per_case_dice(seg2d_manifest, tmp_path):
    run = train(tiny_config(seg2d_manifest, tmp_path / "seg", task="segmentation", epochs=1,
                            extra=("data.label_fraction=0.5",)))
    with np.load(run.run_dir / "test_cases.npz") as z:
        assert z["dice"].shape == (8, 1)
        assert np.nanmean(z["dice"]) == pytest.approx(run.metrics["test"]["dice"], abs=1e-5)


def test_bad_label_fraction_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="label_fraction"):
        load_config(overrides=["data.label_fraction=0"])


def _loader_sizes(monkeypatch) -> list[tuple[int, list[int]]]:
    """(batches, item indices) of every training epoch's loader, recorded as the loop trains."""
    import medtl.train.loop as loop

    seen, real = [], loop.train_epoch

    def spy(model, loader, *args, **kwargs):
        seen.append((len(loader), list(loader.sampler)))
        return real(model, loader, *args, **kwargs)

    monkeypatch.setattr(loop, "train_epoch", spy)
    return seen


def test_min_samples_per_epoch_repeats_a_small_label_set(npz_2d, tmp_path, monkeypatch):
    seen = _loader_sizes(monkeypatch)
    train(tiny_config(npz_2d, tmp_path / "few", epochs=2,
                      extra=("data.label_fraction=0.25", "data.min_samples_per_epoch=40")))
    assert [batches for batches, _ in seen] == [5, 5]  # 40 items a batch of 8, not 12 // 8 = 1
    first, second = (np.bincount(items, minlength=12) for _, items in seen)
    assert first.min() >= 3 and first.max() <= 4 and first.sum() == 40  # whole passes, then part of one
    assert seen[0][1] != seen[1][1]  # reshuffled every epoch


def test_min_samples_below_the_training_set_changes_nothing(npz_2d, tmp_path, monkeypatch):
    seen = _loader_sizes(monkeypatch)
    train(tiny_config(npz_2d, tmp_path / "all", epochs=1, extra=("data.min_samples_per_epoch=10",)))
    assert seen[0][0] == 6 and sorted(seen[0][1]) == list(range(48))  # one pass over the 48 items


def test_bad_min_samples_is_a_config_error():
    with pytest.raises(ConfigError, match="min_samples_per_epoch"):
        load_config(overrides=["data.min_samples_per_epoch=-1"])


def test_a_run_with_few_optimiser_steps_says_how_to_get_more(npz_2d, tmp_path, capsys):
    train(tiny_config(npz_2d, tmp_path / "few", epochs=2, extra=("data.label_fraction=0.25",)))
    err = capsys.readouterr().err
    # 12 items at batch 8: 1 step an epoch (the last partial batch dropped), 2 in all
    assert "12 training items an epoch at batch 8 give 1 optimiser step(s) an epoch, 2 in all" in err
    assert "--set data.min_samples_per_epoch=800" in err  # 100 steps an epoch x 2 epochs = 200


def test_few_epochs_of_a_large_training_set_get_no_note(npz_2d, tmp_path, capsys):
    train(tiny_config(npz_2d, tmp_path / "short", epochs=1, extra=("batch_size=4",)))  # 12 steps, 1 epoch
    assert "optimiser step(s)" not in capsys.readouterr().err
