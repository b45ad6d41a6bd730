"""Masked image modelling: whole patches hidden at the asked ratio, never none."""

from __future__ import annotations

import torch

from medtl.pretrain import mim
from medtl.pretrain.config import SSLConfig


def test_mask_is_made_of_whole_patches_at_the_ratio():
    m = mim.random_mask((4, 1, 64, 64), 0.6, 8, torch.Generator().manual_seed(0))
    assert m.shape == (4, 1, 64, 64)
    blocks = m.reshape(4, 1, 8, 8, 8, 8)  # (B, 1, gy, py, gx, px)
    assert torch.equal(blocks.amax(dim=(3, 5)), blocks.amin(dim=(3, 5)))  # constant inside each patch
    assert 0.45 < float(m.mean()) < 0.75


def test_every_image_has_a_hidden_patch_and_odd_sizes_work():
    m = mim.random_mask((16, 1, 10, 13, 7), 0.01, 4, torch.Generator().manual_seed(1))
    assert m.shape == (16, 1, 10, 13, 7)
    assert bool((m.flatten(1).sum(1) > 0).all())


def test_corrupt_zeroes_the_hidden_voxels():
    x = torch.randn(2, 1, 32, 32) + 5
    inp, mask = mim.corrupt(x, SSLConfig(mask_ratio=0.5, mask_patch=4), torch.Generator().manual_seed(2))
    assert torch.equal(inp[mask.bool()], torch.zeros(int(mask.sum())))
    assert torch.equal(inp[~mask.bool()], x[~mask.bool()])
    assert mim.patch_size((64, 48), None) == 6
