"""Every config shipped in configs/ loads through the typed, checked config layer (training configs
with medtl.train's, pretraining configs with medtl.pretrain's), so a `medtl train|pretrain --config
configs/X.yaml` documented in the README or a benchmark page cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest

from medtl.pretrain import load_pretrain_config
from medtl.train import load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
NOT_TRAINING = {"review.yaml"}  # the review app's window presets (medtl/review/presets.py)
PRETRAINING = sorted(p.name for p in CONFIGS.glob("pretrain*.yaml"))


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")
                                        if p.name not in NOT_TRAINING and p.name not in PRETRAINING))
def test_shipped_config_loads(name):
    cfg = load_config(CONFIGS / name)
    assert cfg.task in ("classification", "segmentation") and cfg.epochs > 0


@pytest.mark.parametrize("name", PRETRAINING)
def test_shipped_pretraining_config_loads(name):
    cfg = load_pretrain_config(CONFIGS / name)
    assert cfg.ssl.method in ("genesis", "mim") and cfg.epochs > 0


def test_hippocampus_pretraining_matches_the_fine_tune_config():
    """model.pretrained_decoder needs the same encoder, decoder widths and preprocessing."""
    ssl, seg = load_pretrain_config(CONFIGS / "pretrain_hippocampus.yaml"), load_config(CONFIGS / "hippocampus.yaml")
    assert (ssl.model.encoder, ssl.model.decoder_channels) == (seg.model.encoder, seg.model.decoder_channels)
    assert ssl.preprocess == seg.preprocess


def test_adrenal_64_config_is_the_benchmarked_scratch_run():
    """configs/adrenalmnist3d_64.yaml = the bench's scratch arm at 64^3 (bench_adrenal.py --size 64)."""
    bench = load_config(CONFIGS / "adrenalmnist3d.yaml",
                        ["strategy=scratch", "model.weights=none", "preprocess.image_size=64"])
    shipped = load_config(CONFIGS / "adrenalmnist3d_64.yaml")
    assert shipped.preprocess == bench.preprocess and shipped.augment == bench.augment
    assert (shipped.model, shipped.strategy, shipped.epochs, shipped.batch_size) == \
        (bench.model, bench.strategy, bench.epochs, bench.batch_size)
    assert (shipped.optim.lr, shipped.optim.schedule) == (bench.optim.lr, bench.optim.schedule)
