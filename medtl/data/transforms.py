"""MONAI dict-transform chains built from one serialisable :class:`PreprocessConfig`.

Order: load (0/255 masks -> 0/1) -> (canonical RAS) -> (resample to target spacing) -> channel count -> intensity
preset to [0, 1] -> resize or pad/crop -> [train only: random flips, small affine, intensity
jitter] -> (x - mean) / std -> masks cast to int64. Everything before the first random transform
is deterministic, so MONAI's CacheDataset/PersistentDataset cache exactly that part.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np

from medtl.errors import ConfigError, MedtlError

INTENSITY_PRESETS = ("ct_window", "mr_percentile", "minmax", "uint8", "none")
RESIZE_MODES = ("resize", "pad_crop")
DEFAULT_CT_WINDOW = (400.0, 40.0)  # soft tissue (width, level) HU


@contextlib.contextmanager
def typed_errors() -> Iterator[None]:
    """Re-raise the MedtlError that MONAI wrapped in ``RuntimeError("applying transform ...")``.

    MONAI's ``apply_transform`` wraps every exception (several times in nested chains); the
    user must see the reader's typed error (file name + reason code) instead.
    """
    try:
        yield
    except RuntimeError as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, MedtlError):
            cause = cause.__cause__
        if cause is None:
            raise
        raise cause from None


def _tuple(v, cast=float):
    if v is None:
        return None
    if isinstance(v, int | float):
        return (cast(v),)
    return tuple(cast(x) for x in v)


class _Serialisable:
    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} key(s) {unknown}; known: {sorted(names)}")
        return cls(**d)


@dataclass
class PreprocessConfig(_Serialisable):
    """Stored in every model directory (model.json "preprocess"); scoring rebuilds it exactly."""

    spatial_dims: int = 2
    image_size: tuple[int, ...] = (128, 128)
    in_channels: int = 1
    intensity: str = "minmax"
    window: tuple[float, float] | None = None  # (width, level) in HU, for ct_window
    percentiles: tuple[float, float] = (1.0, 99.0)
    target_spacing: tuple[float, ...] | None = None
    canonical: bool = False
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    resize_mode: str = "resize"

    def __post_init__(self) -> None:
        self.spatial_dims = int(self.spatial_dims)
        if self.spatial_dims not in (2, 3):
            raise ConfigError(f"preprocess.spatial_dims must be 2 or 3, not {self.spatial_dims}")
        size = _tuple(self.image_size, int)
        self.image_size = size * self.spatial_dims if len(size) == 1 else size
        if len(self.image_size) != self.spatial_dims or min(self.image_size) < 1:
            raise ConfigError(f"preprocess.image_size {self.image_size} does not fit {self.spatial_dims}D")
        if self.intensity not in INTENSITY_PRESETS:
            raise ConfigError(f"preprocess.intensity {self.intensity!r} not in {INTENSITY_PRESETS}")
        if self.resize_mode not in RESIZE_MODES:
            raise ConfigError(f"preprocess.resize_mode {self.resize_mode!r} not in {RESIZE_MODES}")
        self.window = _tuple(self.window)
        if self.window is not None and (len(self.window) != 2 or self.window[0] <= 0):
            raise ConfigError(f"preprocess.window must be (width > 0, level), not {self.window}")
        self.percentiles = _tuple(self.percentiles)
        if len(self.percentiles) != 2 or not 0 <= self.percentiles[0] < self.percentiles[1] <= 100:
            raise ConfigError(f"preprocess.percentiles must be (low, high) in 0..100, not {self.percentiles}")
        spacing = _tuple(self.target_spacing)
        if spacing is not None and len(spacing) == 1:
            spacing = spacing * self.spatial_dims
        if spacing is not None and (len(spacing) != self.spatial_dims or min(spacing) <= 0):
            raise ConfigError(f"preprocess.target_spacing {spacing} does not fit {self.spatial_dims}D")
        self.target_spacing = spacing
        self.mean, self.std = _tuple(self.mean), _tuple(self.std)
        if min(self.std) <= 0:
            raise ConfigError(f"preprocess.std must be positive, not {self.std}")
        self.in_channels = int(self.in_channels)
        self.canonical = bool(self.canonical)


@dataclass
class AugmentConfig(_Serialisable):
    """Random augmentation, applied only when ``build_transforms(train=True)``."""

    enabled: bool = True
    flip_axes: tuple[int, ...] | None = None  # spatial axes to flip (None: all), each with p=0.5
    flip_prob: float = 0.5
    affine_prob: float = 0.5
    rotate_deg: float = 10.0
    scale: float = 0.1  # +-10 % zoom
    translate: float = 0.05  # fraction of the image size
    intensity_prob: float = 0.5
    intensity_scale: float = 0.1  # x * (1 + U(-s, s))
    intensity_shift: float = 0.05  # x + U(-s, s), in the [0, 1] range of the preset
    noise_std: float = 0.0

    def __post_init__(self) -> None:
        self.flip_axes = _tuple(self.flip_axes, int)


def _channel_stats(values: tuple[float, ...], channels: int) -> list[float]:
    if len(values) == channels:
        return list(values)
    if len(values) == 1:
        return list(values) * channels
    return [float(np.mean(values))] * channels  # RGB statistics on a 1-channel input


def build_transforms(
    cfg: PreprocessConfig,
    *,
    train: bool,
    keys: Sequence[str] = ("image",),
    mask_key: str | None = None,
    augment: AugmentConfig | None = None,
    reader: Callable | None = None,
):
    """MONAI ``Compose`` of dict transforms for ``keys`` (images) and an optional ``mask_key``.

    ``augment=None`` with ``train=True`` uses ``AugmentConfig()``; pass ``AugmentConfig(enabled=False)``
    to train without augmentation. ``reader`` replaces ``read_scan`` (tests count calls with it).
    """
    import torch
    from monai.transforms import CastToTyped, NormalizeIntensityd, Orientationd, Spacingd

    from medtl.data.loadscan import BinaryMaskd, LoadScand, MatchChannelsd, MedtlCompose

    keys = list(keys)
    all_keys = keys + ([mask_key] if mask_key else [])
    modes = ["bilinear"] * len(keys) + (["nearest"] if mask_key else [])
    ts: list = [LoadScand(all_keys, spatial_dims=cfg.spatial_dims, reader=reader)]
    if mask_key:
        ts.append(BinaryMaskd(mask_key))
    if cfg.canonical and cfg.spatial_dims == 3:
        ts.append(Orientationd(all_keys, axcodes="RAS", labels=None))
    if cfg.target_spacing:
        ts.append(Spacingd(all_keys, pixdim=cfg.target_spacing, mode=modes))
    ts.append(MatchChannelsd(keys, channels=cfg.in_channels))
    ts += _intensity(cfg, keys)
    ts += _size(cfg, keys, mask_key)
    if train:
        from medtl.data.augment import augment_transforms

        ts += augment_transforms(augment or AugmentConfig(), cfg, keys, mask_key)
    ts.append(
        NormalizeIntensityd(
            keys,
            subtrahend=_channel_stats(cfg.mean, cfg.in_channels),
            divisor=_channel_stats(cfg.std, cfg.in_channels),
            channel_wise=True,
        )
    )
    if mask_key:
        ts.append(CastToTyped(mask_key, dtype=torch.int64))
    compose = MedtlCompose(ts)
    compose.medtl_spec = {
        "preprocess": cfg.to_dict(),
        "train": bool(train),
        "keys": all_keys,
        "augment": (augment or AugmentConfig()).to_dict() if train else None,
    }
    return compose


def _intensity(cfg: PreprocessConfig, keys: list[str]) -> list:
    from monai.transforms import ScaleIntensityd, ScaleIntensityRanged, ScaleIntensityRangePercentilesd

    if cfg.intensity == "ct_window":
        width, level = cfg.window or DEFAULT_CT_WINDOW
        lo, hi = level - width / 2.0, level + width / 2.0
        return [ScaleIntensityRanged(keys, a_min=lo, a_max=hi, b_min=0.0, b_max=1.0, clip=True)]
    if cfg.intensity == "mr_percentile":
        low, high = cfg.percentiles
        return [
            ScaleIntensityRangePercentilesd(
                keys, lower=low, upper=high, b_min=0.0, b_max=1.0, clip=True, channel_wise=True
            )
        ]
    if cfg.intensity == "uint8":
        return [ScaleIntensityRanged(keys, a_min=0.0, a_max=255.0, b_min=0.0, b_max=1.0, clip=True)]
    if cfg.intensity == "minmax":
        return [ScaleIntensityd(keys, minv=0.0, maxv=1.0, channel_wise=True)]
    return []


def _size(cfg: PreprocessConfig, keys: list[str], mask_key: str | None) -> list:
    from monai.transforms import Resized, ResizeWithPadOrCropd

    all_keys = keys + ([mask_key] if mask_key else [])
    if cfg.resize_mode == "pad_crop":
        return [ResizeWithPadOrCropd(all_keys, spatial_size=cfg.image_size)]
    linear = "bilinear" if cfg.spatial_dims == 2 else "trilinear"
    return [
        Resized(
            all_keys,
            spatial_size=cfg.image_size,
            mode=[linear] * len(keys) + (["nearest"] if mask_key else []),
            anti_aliasing=[True] * len(keys) + ([False] if mask_key else []),
        )
    ]


def __getattr__(name: str):
    # LoadScand/MatchChannelsd import MONAI at module level; keep `import medtl.data` light.
    if name in ("LoadScand", "MatchChannelsd", "MedtlCompose"):
        from medtl.data import loadscan

        return getattr(loadscan, name)
    raise AttributeError(name)
