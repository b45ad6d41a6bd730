"""Models Genesis corruptions: each keeps shapes and does what the paper's transform does."""

from __future__ import annotations

import torch

from medtl.pretrain import genesis
from medtl.pretrain.config import SSLConfig


def _img(dims: int = 3, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(1, *(size,) * dims, generator=g)


def test_bezier_remap_is_monotone_and_keeps_range():
    x = torch.linspace(0, 1, 101).reshape(1, 101)
    seen = set()
    for seed in range(12):
        y = genesis.bezier_remap(x, torch.Generator().manual_seed(seed)).flatten()
        d = torch.diff(y)
        increasing, decreasing = bool((d >= -1e-6).all()), bool((d <= 1e-6).all())
        assert increasing or decreasing
        seen.add(increasing)
        assert float(y.min()) >= -1e-6 and float(y.max()) <= 1 + 1e-6
    assert seen == {True, False}  # both the plain and the inverted curve occur


def test_local_shuffle_only_permutes_values():
    x = _img()
    y = genesis.local_shuffle(x, 50, torch.Generator().manual_seed(1))
    assert y.shape == x.shape and not torch.equal(x, y)
    assert torch.equal(torch.sort(x.flatten()).values, torch.sort(y.flatten()).values)


def test_out_paint_keeps_one_box_of_the_original():
    x = _img(2, 32)
    y = genesis.out_paint(x, torch.Generator().manual_seed(2))
    same = (x == y)
    assert 0.1 < float(same.float().mean()) < 0.95  # a box (3/7..4/7 per axis, up to five) survived
    rows, cols = same[0].any(1).nonzero(), same[0].any(0).nonzero()
    assert len(rows) >= 13 and len(cols) >= 13  # at least 3/7 of 32 along each axis


def test_in_paint_changes_boxes_only():
    x = _img(3, 24)
    y = genesis.in_paint(x, torch.Generator().manual_seed(3))
    changed = float((x != y).float().mean())
    assert 0.0 < changed < 0.5


def test_corrupt_is_reproducible_with_a_generator_and_varies_without():
    x = torch.rand(3, 1, 16, 16, 16, generator=torch.Generator().manual_seed(4))
    cfg = SSLConfig(local_shuffle_blocks=20)
    a = genesis.corrupt(x, cfg, torch.Generator().manual_seed(5))
    b = genesis.corrupt(x, cfg, torch.Generator().manual_seed(5))
    c = genesis.corrupt(x, cfg, torch.Generator().manual_seed(6))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    none = SSLConfig(nonlinear_prob=0, local_shuffle_prob=0, paint_prob=0)
    assert torch.equal(genesis.corrupt(x, none), x)


def test_psnr():
    assert genesis.psnr(0.01) == 20.0
