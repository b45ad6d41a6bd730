"""Real brain MR series (TCIA Brain-Tumor-Progression) from ../shared/data/dicom_brain_mr."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from medtl.data.discover import discover_scans, read_ref

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def _corners(ds) -> np.ndarray:
    ipp = np.array(ds.ImagePositionPatient, float)
    row, col = np.array(ds.ImageOrientationPatient[:3], float), np.array(ds.ImageOrientationPatient[3:], float)
    dr, dc = map(float, ds.PixelSpacing)
    pts = [ipp + c * dc * row + r * dr * col for c in (0, ds.Columns - 1) for r in (0, ds.Rows - 1)]
    return np.array(pts) @ LPS_TO_RAS.T


@pytest.mark.slow
def test_every_real_series_matches_its_tags(shared_data):
    root = shared_data / "dicom_brain_mr"
    if not root.is_dir():
        pytest.skip("dicom_brain_mr not available")
    refs = discover_scans(root)
    dicom_refs = [r for r in refs if r.format == "dicom"]
    assert len(dicom_refs) >= 10 and all(r.error is None for r in dicom_refs)
    for ref in dicom_refs:
        scan = read_ref(ref)
        headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in ref.files]
        assert scan.array.shape[-1] == len(headers) and scan.spatial_dims == 3
        assert scan.spatial_shape[:2] == (int(headers[0].Columns), int(headers[0].Rows))
        if "HCrop" in ref.path:
            np.testing.assert_allclose(scan.spacing, (1.0, 1.0, 1.0), atol=1e-3)
        else:
            np.testing.assert_allclose(scan.spacing[:2], (0.4297, 0.4297), atol=1e-3)
            assert scan.spacing[2] == pytest.approx(6.5, abs=0.01)
        row, col = (np.array(headers[0].ImageOrientationPatient[:3], float),
                    np.array(headers[0].ImageOrientationPatient[3:], float))
        normal = np.cross(row, col)
        ordered = sorted(headers, key=lambda d: np.array(d.ImagePositionPatient, float) @ normal)
        expected = np.vstack([_corners(ordered[0]), _corners(ordered[-1])])
        got = scan.corners_world()
        for corner in expected:
            assert np.min(np.linalg.norm(got - corner, axis=1)) < 0.01, ref.path
        assert scan.modality == "MR" and np.isfinite(scan.array).all()
