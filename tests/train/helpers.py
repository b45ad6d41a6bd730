"""Shared helpers for the training tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

from medtl.train.config import load_config

RUN_FILES = ("model.safetensors", "model.json", "config.yaml", "metrics.json", "curves.png", "MODEL_CARD.md")


def tiny_config(data: Path, out: Path, *, task: str = "classification", strategy: str = "scratch", size: int = 32,
                epochs: int = 3, extra: tuple[str, ...] = ()):
    """A fast config: tiny encoder, small images, lr suited to a random tiny network."""
    return load_config(overrides=[
        f"data.path={data}", f"out={out}", f"task={task}", f"strategy={strategy}", "model.encoder=tiny",
        "model.weights=none", f"epochs={epochs}", "batch_size=8", f"preprocess.image_size={size}", "quiet=true",
        "optim.lr=0.01", "optim.encoder_lr=0.003", "patience=0", f"linear_probe.cache_dir={out.parent / 'emb'}",
        *extra,
    ])


def check_run_dir(run_dir: Path, *, task: str, encoder: str = "tiny") -> dict:
    """Every model-directory file is there and the metrics are real numbers."""
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    keys = ("auc", "accuracy", "balanced_accuracy", "sensitivity", "specificity") if task == "classification" \
        else ("dice", "hd95")
    for split in ("val", "test"):
        for key in keys:
            value = metrics[split][key]
            assert isinstance(value, float) and math.isfinite(value), (split, key, value)
    assert metrics["wall_time_s"] > 0
    info = json.loads((run_dir / "model.json").read_text())
    assert info["format"] == "medtl-model/1" and info["provenance"]["encoder"] == encoder
    assert 0.0 < info["threshold"] <= 1.0 and info["temperature"] > 0
    return metrics
