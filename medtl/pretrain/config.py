"""Typed configuration of ``medtl pretrain`` (defaults in ``configs/pretrain.yaml``).

The run-level keys and the ``data``/``model``/``preprocess``/``optim`` sections are the same
dataclasses ``medtl train`` uses (one meaning per key across both commands); ``ssl`` is the
self-supervised method's own section. Precedence: dataclass defaults < configs/pretrain.yaml <
``--config FILE`` < ``--set key=value`` < flags.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medtl.errors import ConfigError
from medtl.train.config import (
    DataConfig,
    ModelOptions,
    OptimConfig,
    PreprocessOverrides,
    apply_overrides,
    merge_config,
    read_yaml,
    validate_run,
)

PRETRAIN_YAML = Path(__file__).resolve().parents[2] / "configs" / "pretrain.yaml"
METHODS = ("genesis", "mim")


@dataclass
class SSLConfig:
    """The self-supervised task (``ssl:`` section)."""

    method: str = "genesis"  # genesis (Models Genesis restoration) | mim (masked image modelling)
    val_fraction: float = 0.05  # unlabelled scans held out to select the epoch (reconstruction PSNR)
    exclude: str | None = None  # a training manifest/npz: its val and test images are never used
    max_scans: int | None = None  # use at most this many scans (seeded sample); None = all
    # genesis: probabilities of each corruption (Zhou et al. 2021 defaults) and local-shuffle blocks
    nonlinear_prob: float = 0.9
    local_shuffle_prob: float = 0.5
    local_shuffle_blocks: int = 200
    paint_prob: float = 0.9
    inpaint_share: float = 0.2  # of the painted images, this share is in-painted, the rest out-painted
    # mim: patches of this many voxels per axis (None = image size / 8) are masked with this ratio
    mask_ratio: float = 0.6
    mask_patch: int | None = None


@dataclass
class PretrainConfig:
    out: str | None = None
    epochs: int = 20
    batch_size: int = 8
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    patience: int = 0  # early stopping on validation PSNR (0 = off)
    resume: bool = False
    quiet: bool = False
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelOptions = field(default_factory=ModelOptions)
    preprocess: PreprocessOverrides = field(default_factory=PreprocessOverrides)
    augment: dict[str, Any] = field(default_factory=dict)  # AugmentConfig fields, applied before corruption
    optim: OptimConfig = field(default_factory=OptimConfig)
    ssl: SSLConfig = field(default_factory=SSLConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> PretrainConfig:
        s = self.ssl
        if s.method not in METHODS:
            raise ConfigError(f"ssl.method must be one of {METHODS}, got {s.method!r}")
        validate_run(self)
        if not 0.0 < s.val_fraction < 0.5:
            raise ConfigError(f"ssl.val_fraction must be in (0, 0.5), got {s.val_fraction}")
        for key in ("nonlinear_prob", "local_shuffle_prob", "paint_prob", "inpaint_share"):
            if not 0.0 <= getattr(s, key) <= 1.0:
                raise ConfigError(f"ssl.{key} must be in [0, 1], got {getattr(s, key)}")
        if not 0.0 < s.mask_ratio < 1.0:
            raise ConfigError(f"ssl.mask_ratio must be in (0, 1), got {s.mask_ratio}")
        if s.mask_patch is not None and s.mask_patch < 1:
            raise ConfigError(f"ssl.mask_patch must be >= 1, got {s.mask_patch}")
        if s.local_shuffle_blocks < 0 or (s.max_scans is not None and s.max_scans < 2):
            raise ConfigError("ssl.local_shuffle_blocks must be >= 0 and ssl.max_scans >= 2")
        return self


def load_pretrain_config(path: str | Path | None = None, overrides=()) -> PretrainConfig:
    """Defaults (configs/pretrain.yaml when present) < ``path`` < ``overrides``; validated."""
    cfg = PretrainConfig()
    if PRETRAIN_YAML.is_file():
        merge_config(cfg, read_yaml(PRETRAIN_YAML))
    if path is not None:
        try:
            merge_config(cfg, read_yaml(path))
        except ConfigError as exc:
            raise ConfigError(exc.message, path=path) from None
    apply_overrides(cfg, overrides)
    return cfg.validate()
