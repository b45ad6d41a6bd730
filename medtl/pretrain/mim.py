"""Masked image modelling for CNN encoders (SimMIM, Xie et al. 2022; SparK, Tian et al. 2023).

Random patches (``mask_patch`` voxels per axis, default 1/8 of the image side) are hidden with
probability ``mask_ratio``; the network sees the masked image (hidden voxels set to 0, the mean
after normalisation) and predicts the original intensities; the loss is the L1 error on the
hidden voxels only, as in SimMIM. A CNN sees the mask's edges, which SparK avoids with sparse
convolutions; plain zero-filling is what MONAI's building blocks allow and what SimMIM reports
working for convolutional backbones too.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def patch_size(image_size, mask_patch: int | None) -> int:
    return int(mask_patch) if mask_patch else max(1, int(min(image_size)) // 8)


def random_mask(shape: tuple[int, ...], ratio: float, patch: int, generator=None) -> torch.Tensor:
    """A (B, 1, *spatial) 0/1 float mask of whole patches; at least one patch per image is hidden."""
    b, spatial = shape[0], shape[2:]
    grid = [math.ceil(s / patch) for s in spatial]
    m = (torch.rand(b, 1, *grid, generator=generator) < ratio).float()
    flat = m.view(b, -1)
    empty = flat.sum(1) == 0
    if bool(empty.any()):  # never an image with nothing to predict
        pick = torch.randint(0, flat.shape[1], (int(empty.sum()),), generator=generator)
        flat[empty.nonzero().flatten(), pick] = 1.0
    up = F.interpolate(m, scale_factor=patch, mode="nearest")
    return up[(slice(None), slice(None), *(slice(0, s) for s in spatial))]


def corrupt(x: torch.Tensor, cfg, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked input, mask) for the normalised batch ``x`` (``cfg``: SSLConfig)."""
    mask = random_mask(tuple(x.shape), cfg.mask_ratio, patch_size(x.shape[2:], cfg.mask_patch), generator)
    mask = mask.to(x.device, x.dtype)
    return x * (1.0 - mask), mask
