"""A tiny classification npz and a tiny pretrained source for the comparison tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.train.conftest import blob_image

TINY = ["model.encoder=tiny", "epochs=2", "batch_size=8", "preprocess.image_size=32", "optim.lr=0.01",
        "optim.encoder_lr=0.003", "patience=0", "device=cpu"]


@pytest.fixture(scope="module")
def blobs_npz(tmp_path_factory) -> Path:
    """A MedMNIST-style npz: 40 train / 12 val / 16 test, 32 px, label 1 = a bright blob."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 40), ("val", 12), ("test", 16)):
        labels = [i % 2 for i in range(n)]
        arrays[f"{split}_images"] = np.stack([blob_image(rng, 32, 2, bool(y))[0] for y in labels])
        arrays[f"{split}_labels"] = np.asarray(labels, np.uint8).reshape(-1, 1)
    path = tmp_path_factory.mktemp("npz") / "blobs.npz"
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def source_run(blobs_npz, tmp_path_factory) -> Path:
    """A tiny model trained from scratch: the 'pretrained' weight source of the tests."""
    from medtl.train import load_config, train

    out = tmp_path_factory.mktemp("source") / "run"
    cfg = load_config(overrides=[*TINY, f"data.path={blobs_npz}", f"out={out}", "strategy=scratch",
                                 "model.weights=none", "quiet=true"])
    return train(cfg).run_dir
