"""Scoring's preprocessing is exactly the model directory's ``build_transforms(train=False)``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import get_track_meta

from medtl.data import PreprocessConfig, build_transforms, read_scan
from medtl.infer.cases import collect_cases
from medtl.infer.pipeline import CaseDataset, make_loader
from medtl.infer.preprocess import Preprocessor

from . import helpers

CONFIGS = [
    dict(spatial_dims=2, image_size=(32, 32), intensity="uint8"),
    dict(spatial_dims=2, image_size=(24, 40), intensity="minmax", resize_mode="pad_crop", mean=(0.5,), std=(0.25,)),
    dict(spatial_dims=2, image_size=(20, 20), intensity="mr_percentile", percentiles=(2.0, 98.0)),
    dict(spatial_dims=2, image_size=(16, 16), intensity="none", in_channels=3, mean=(0.4, 0.5, 0.6)),
]


def _expected(cfg: PreprocessConfig, path):
    out = build_transforms(cfg, train=False)({"image": str(path)})["image"]
    return out.as_tensor(), out.affine.numpy()


@pytest.mark.parametrize("kw", CONFIGS)
def test_untracked_path_gives_the_same_numbers_and_affine(kw, tmp_path):
    paths = helpers.write_pngs(tmp_path, 3, size=(48, 40))
    cfg = PreprocessConfig(**kw)
    pre = Preprocessor(build_transforms(cfg, train=False))
    assert pre.affine_free
    for i, path in enumerate(paths):  # the first case fills the geometry cache, the others use it
        x, affine = pre(read_scan(path), allow_untracked=True)
        want, want_affine = _expected(cfg, path)
        assert x.dtype == np.float32 and torch.equal(torch.from_numpy(x), want), (kw, i)
        np.testing.assert_array_equal(affine, want_affine)
        assert get_track_meta()  # MONAI's global switch is restored


def test_affine_reading_chains_always_run_tracked(tmp_path):
    path = helpers.write_ct_nifti(tmp_path / "ct.nii.gz")
    cfg = PreprocessConfig(spatial_dims=3, image_size=(16, 16, 8), intensity="ct_window", window=(400, 40),
                           target_spacing=(1.5, 1.5, 3.0), canonical=True)
    pre = Preprocessor(build_transforms(cfg, train=False))
    assert not pre.affine_free
    for _ in range(2):
        x, affine = pre(read_scan(path), allow_untracked=True)
        want, want_affine = _expected(cfg, path)
        assert torch.equal(torch.from_numpy(x), want)
        np.testing.assert_array_equal(affine, want_affine)


def test_loader_worker_items_equal_build_transforms(tmp_path):
    """End to end through a DataLoader worker process (where the untracked path runs)."""
    helpers.write_pngs(tmp_path / "in", 4, size=(48, 40))
    cfg = PreprocessConfig(spatial_dims=2, image_size=(32, 32), intensity="minmax")
    cases = collect_cases([tmp_path / "in"])
    loader = make_loader(CaseDataset(cases, build_transforms(cfg, train=False)), list(range(4)), batch_size=2,
                         workers=1)
    items = [item for batch in loader for item in batch]
    assert [it.index for it in items] == [0, 1, 2, 3] and all(it.ok for it in items)
    for item in items:
        want, want_affine = _expected(cfg, cases[item.index].path)
        assert isinstance(item.x, np.ndarray) and torch.equal(torch.from_numpy(item.x), want)
        np.testing.assert_array_equal(item.x_affine, want_affine)
