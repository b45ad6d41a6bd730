"""Scoring on the real data in ../shared/data (skipped when absent)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from medtl.data import read_scan
from medtl.infer.score import score

from . import helpers

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.mark.slow
def test_real_oblique_mr_series_and_hippocampus_masks_keep_geometry(tmp_path):
    series = DATA / "dicom_brain_mr" / "Study1" / "12-T1post-05670"
    hippo = DATA / "msd_hippocampus" / "images"
    if not series.is_dir() or not hippo.is_dir():
        pytest.skip("real data not available in ../shared/data")
    inputs = tmp_path / "links"
    inputs.mkdir()
    for name in ("hippocampus_001.nii.gz", "hippocampus_003.nii.gz"):
        shutil.copy(hippo / name, inputs / name)  # copied into tmp_path, never into the repo
    model = helpers.seg_model_dir(tmp_path / "model", image_size=(32, 32, 16))
    out = tmp_path / "out"
    s = score(model, [series, inputs], out, workers=1, batch_size=2, quiet=True)
    assert (s.ok, s.failed) == (3, 0)
    for case_id, src in (("12-T1post-05670", series), ("hippocampus_001", inputs / "hippocampus_001.nii.gz")):
        original, mask = read_scan(src), read_scan(out / "masks" / f"{case_id}.nii.gz")
        assert mask.spatial_shape == original.spatial_shape
        np.testing.assert_allclose(mask.affine, original.affine, atol=1e-4)
    seg = pydicom.dcmread(out / "seg" / "12-T1post-05670.dcm")
    first = pydicom.dcmread(next(p for p in sorted(series.iterdir()) if p.is_file()), stop_before_pixels=True)
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == first.SeriesInstanceUID
    assert int(seg.NumberOfFrames) == read_scan(series).spatial_shape[2]
    z = np.load(out / "cases" / "12-T1post-05670" / "preview.npz")
    assert max(z["image"].shape[:2]) <= 256 and z["image"].shape[2] <= 64
