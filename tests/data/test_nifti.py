import nibabel as nib
import numpy as np
import pytest

from medtl.data.nifti import nifti_header_info, read_nifti
from medtl.errors import ScanReadError


def _write(path, data, affine):
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


@pytest.fixture
def oblique_affine():
    theta = np.radians(20)
    rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([0.7, 0.9, 2.5])
    affine[:3, 3] = [-10.0, 4.0, 33.0]
    return affine


def test_3d_affine_and_values_honoured(tmp_path, oblique_affine):
    data = np.random.default_rng(0).normal(size=(4, 5, 6)).astype(np.float32)
    scan = read_nifti(_write(tmp_path / "a.nii.gz", data, oblique_affine))
    assert scan.array.shape == (1, 4, 5, 6)
    np.testing.assert_allclose(scan.array[0], data, rtol=1e-6)
    np.testing.assert_allclose(scan.affine, oblique_affine, atol=1e-5)
    np.testing.assert_allclose(scan.spacing, (0.7, 0.9, 2.5), atol=1e-5)
    assert scan.format == "nifti" and scan.files == [str(tmp_path / "a.nii.gz")]


def test_4d_last_axis_becomes_channels(tmp_path):
    data = np.arange(3 * 4 * 5 * 2, dtype=np.int16).reshape(3, 4, 5, 2)
    scan = read_nifti(_write(tmp_path / "b.nii", data, np.diag([2.0, 2.0, 3.0, 1.0])))
    assert scan.array.shape == (2, 3, 4, 5) and scan.channels == 2
    np.testing.assert_array_equal(scan.array[1], data[..., 1])
    assert nifti_header_info(tmp_path / "b.nii") == (3, 2)


def test_2d_nifti(tmp_path):
    scan = read_nifti(_write(tmp_path / "c.nii.gz", np.ones((7, 8), np.float32), np.eye(4)))
    assert scan.array.shape == (1, 7, 8) and scan.spatial_dims == 2 and scan.spacing == (1.0, 1.0)


def test_canonical_reorients_to_ras_keeping_world_positions(tmp_path):
    affine = np.diag([-2.0, -3.0, 4.0, 1.0])  # LPS-like storage
    affine[:3, 3] = [20.0, 30.0, -8.0]
    data = np.zeros((5, 6, 7), np.float32)
    data[1, 2, 3] = 9.0
    path = _write(tmp_path / "lps.nii.gz", data, affine)
    raw, can = read_nifti(path), read_nifti(path, canonical=True)
    assert np.all(np.diag(can.affine)[:3] > 0)
    np.testing.assert_allclose(can.spacing, (2.0, 3.0, 4.0))

    def world_of_max(scan):
        idx = np.unravel_index(np.argmax(scan.array[0]), scan.spatial_shape)
        return (scan.affine @ np.array([*idx, 1.0]))[:3]

    np.testing.assert_allclose(world_of_max(raw), world_of_max(can))
    assert np.unravel_index(np.argmax(can.array[0]), can.spatial_shape) == (3, 3, 3)


def test_unreadable_and_missing(tmp_path):
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"not a nifti at all")
    with pytest.raises(ScanReadError) as err:
        read_nifti(bad)
    assert err.value.code == "unreadable_nifti" and "bad.nii.gz" in str(err.value)
    with pytest.raises(ScanReadError) as err:
        read_nifti(tmp_path / "nope.nii")
    assert err.value.code == "not_found"


def test_truncated_gzip_is_unreadable(tmp_path):
    path = _write(tmp_path / "t.nii.gz", np.random.default_rng(1).normal(size=(16, 16, 16)), np.eye(4))
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ScanReadError) as err:
        read_nifti(path)
    assert err.value.code == "unreadable_nifti"
