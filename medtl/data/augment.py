"""Random augmentation transforms (train only): flips, a small affine, intensity jitter."""

from __future__ import annotations

import math

from medtl.data.transforms import AugmentConfig, PreprocessConfig


def augment_transforms(aug: AugmentConfig, cfg: PreprocessConfig, keys: list[str], mask_key: str | None) -> list:
    from monai.transforms import (
        RandAffined,
        RandFlipd,
        RandGaussianNoised,
        RandScaleIntensityd,
        RandShiftIntensityd,
    )

    if not aug.enabled:
        return []
    all_keys = keys + ([mask_key] if mask_key else [])
    nd = cfg.spatial_dims
    ts: list = []
    for axis in aug.flip_axes if aug.flip_axes is not None else range(nd):
        ts.append(RandFlipd(all_keys, prob=aug.flip_prob, spatial_axis=int(axis)))
    if aug.affine_prob > 0 and (aug.rotate_deg or aug.scale or aug.translate):
        rot = math.radians(aug.rotate_deg)
        ts.append(
            RandAffined(
                all_keys,
                prob=aug.affine_prob,
                rotate_range=(rot,) if nd == 2 else (rot, rot, rot),
                scale_range=(aug.scale,) * nd,
                translate_range=tuple(aug.translate * s for s in cfg.image_size),
                mode=["bilinear"] * len(keys) + (["nearest"] if mask_key else []),
                padding_mode="zeros",
            )
        )
    if aug.intensity_prob > 0 and aug.intensity_scale > 0:
        ts.append(RandScaleIntensityd(keys, factors=aug.intensity_scale, prob=aug.intensity_prob))
    if aug.intensity_prob > 0 and aug.intensity_shift > 0:
        ts.append(RandShiftIntensityd(keys, offsets=aug.intensity_shift, prob=aug.intensity_prob))
    if aug.noise_std > 0:
        ts.append(RandGaussianNoised(keys, prob=aug.intensity_prob, std=aug.noise_std))
    return ts
