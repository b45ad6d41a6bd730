"""Every training config shipped in configs/ loads through the typed, checked config layer, so a
`medtl train --config configs/X.yaml` documented in the README or a benchmark page cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest

from medtl.train import load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
NOT_TRAINING = {"review.yaml"}  # the review app's window presets (medtl/review/presets.py)


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml") if p.name not in NOT_TRAINING))
def test_shipped_config_loads(name):
    cfg = load_config(CONFIGS / name)
    assert cfg.task in ("classification", "segmentation") and cfg.epochs > 0


def test_adrenal_64_config_is_the_benchmarked_scratch_run():
    """configs/adrenalmnist3d_64.yaml = the bench's scratch arm at 64^3 (bench_adrenal.py --size 64)."""
    bench = load_config(CONFIGS / "adrenalmnist3d.yaml",
                        ["strategy=scratch", "model.weights=none", "preprocess.image_size=64"])
    shipped = load_config(CONFIGS / "adrenalmnist3d_64.yaml")
    assert shipped.preprocess == bench.preprocess and shipped.augment == bench.augment
    assert (shipped.model, shipped.strategy, shipped.epochs, shipped.batch_size) == \
        (bench.model, bench.strategy, bench.epochs, bench.batch_size)
    assert (shipped.optim.lr, shipped.optim.schedule) == (bench.optim.lr, bench.optim.schedule)
