"""Models Genesis restoration (Zhou et al., MedIA 2021): corrupt an image, learn to restore it.

The four transformations of the paper, applied in its order and with its default probabilities
(``SSLConfig``): local pixel shuffling inside small random blocks (texture), a random Bezier
intensity remap (appearance; inverted half of the time), then in-painting (random boxes replaced
by noise) or out-painting (everything but one box replaced by noise). The network restores the
original image; the loss is the mean squared error over every voxel.

Written for batched torch tensors in [0, 1] (B, C, *spatial), 2D or 3D, on any device, with an
optional ``torch.Generator`` so validation can use the same corruptions every epoch. The
reference code works on one numpy volume at a time; MONAI has no such transform.
"""

from __future__ import annotations

import math

import torch

_CURVE_POINTS = 1000


def _rand(generator, *shape) -> torch.Tensor:
    return torch.rand(*shape, generator=generator)


def _uniform(generator, low: float, high: float) -> float:
    return low + (high - low) * float(_rand(generator, 1))


def _randint(generator, low: int, high: int) -> int:
    """An integer in [low, high] (inclusive)."""
    return int(torch.randint(int(low), int(high) + 1, (1,), generator=generator))


def bezier_remap(x: torch.Tensor, generator=None) -> torch.Tensor:
    """A random cubic Bezier intensity curve through (0, 0) and (1, 1), inverted half of the time."""
    p1, p2 = _rand(generator, 2), _rand(generator, 2)
    t = torch.linspace(0.0, 1.0, _CURVE_POINTS)
    basis = torch.stack([(1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t ** 2 * (1 - t), t ** 3])  # (4, N)
    pts = torch.stack([torch.zeros(2), p1, p2, torch.ones(2)])  # (4, 2)
    xs, ys = (basis.T @ pts).T
    xs, _ = torch.sort(xs)
    ys, _ = torch.sort(ys)
    if float(_rand(generator, 1)) < 0.5:
        ys = ys.flip(0)  # a decreasing curve: inverted contrast
    xs, ys = xs.to(x.device, x.dtype), ys.to(x.device, x.dtype)
    v = x.clamp(0.0, 1.0)
    idx = torch.searchsorted(xs, v.contiguous()).clamp(1, _CURVE_POINTS - 1)
    x0, x1, y0, y1 = xs[idx - 1], xs[idx], ys[idx - 1], ys[idx]
    w = (v - x0) / (x1 - x0).clamp_min(1e-8)
    return y0 + w * (y1 - y0)


def _box(size: tuple[int, ...], lo: float, hi: float, generator) -> tuple[slice, ...]:
    """A random box whose side along each axis is a fraction in [lo, hi] of that axis."""
    out = []
    for s in size:
        side = max(1, min(s, int(round(s * _uniform(generator, lo, hi)))))
        start = _randint(generator, 0, s - side)
        out.append(slice(start, start + side))
    return tuple(out)


def local_shuffle(img: torch.Tensor, blocks: int, generator=None) -> torch.Tensor:
    """Shuffle the voxels inside ``blocks`` random small blocks (sides up to 1/10 of each axis, at least 2)."""
    out = img.clone()
    size = tuple(img.shape[1:])
    for _ in range(blocks):
        sl = []
        for s in size:
            side = _randint(generator, 1, max(2, s // 10))
            start = _randint(generator, 0, s - side)
            sl.append(slice(start, start + side))
        region = out[(slice(None), *sl)]
        flat = region.reshape(region.shape[0], -1)
        perm = torch.randperm(flat.shape[1], generator=generator).to(img.device)
        out[(slice(None), *sl)] = flat[:, perm].reshape(region.shape)
    return out


def in_paint(img: torch.Tensor, generator=None) -> torch.Tensor:
    """Up to five random boxes (1/6 to 1/3 of each axis) replaced by uniform noise."""
    out = img.clone()
    size = tuple(img.shape[1:])
    count = 5
    while count > 0 and float(_rand(generator, 1)) < 0.95:
        sl = _box(size, 1 / 6, 1 / 3, generator)
        region = out[(slice(None), *sl)]
        out[(slice(None), *sl)] = _rand(generator, *region.shape).to(img.device, img.dtype)
        count -= 1
    return out


def out_paint(img: torch.Tensor, generator=None) -> torch.Tensor:
    """Everything replaced by uniform noise except one to five boxes (3/7 to 4/7 of each axis)."""
    out = _rand(generator, *img.shape).to(img.device, img.dtype)
    size = tuple(img.shape[1:])
    count = 5
    while True:
        sl = _box(size, 3 / 7, 4 / 7, generator)
        out[(slice(None), *sl)] = img[(slice(None), *sl)]
        count -= 1
        if count <= 0 or float(_rand(generator, 1)) >= 0.95:
            return out


def corrupt(x: torch.Tensor, cfg, generator=None) -> torch.Tensor:
    """Corrupt each image of the batch ``x`` (B, C, *spatial) in [0, 1] independently (``cfg``: SSLConfig)."""
    out = []
    for img in x:
        if cfg.local_shuffle_blocks and float(_rand(generator, 1)) < cfg.local_shuffle_prob:
            img = local_shuffle(img, cfg.local_shuffle_blocks, generator)
        if float(_rand(generator, 1)) < cfg.nonlinear_prob:
            img = bezier_remap(img, generator)
        if float(_rand(generator, 1)) < cfg.paint_prob:
            img = in_paint(img, generator) if float(_rand(generator, 1)) < cfg.inpaint_share else out_paint(img, generator)
        out.append(img)
    return torch.stack(out)


def psnr(mse: float) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1]."""
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))
