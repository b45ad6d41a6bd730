"""Series assembly: slice order along the normal, spacing from positions, affine and corners."""

from __future__ import annotations

import itertools

import numpy as np
import pydicom
import pytest

from medtl.data.dicom import read_dicom, read_dicom_files
from medtl.data.synthetic import write_dicom_series
from medtl.errors import ScanReadError

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def _rotation(deg_x: float, deg_z: float) -> np.ndarray:
    ax, az = np.radians(deg_x), np.radians(deg_z)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ rx


def _slice_corners_from_tags(path) -> np.ndarray:
    """RAS corners of one slice computed only from its own DICOM tags."""
    ds = pydicom.dcmread(path)
    ipp = np.array(ds.ImagePositionPatient, dtype=float)
    row, col = np.array(ds.ImageOrientationPatient[:3], float), np.array(ds.ImageOrientationPatient[3:], float)
    dr, dc = float(ds.PixelSpacing[0]), float(ds.PixelSpacing[1])
    corners = [ipp + c * dc * row + r * dr * col for c in (0, ds.Columns - 1) for r in (0, ds.Rows - 1)]
    return np.array(corners) @ LPS_TO_RAS.T


def test_oblique_series_corners_match_first_and_last_slice_tags(tmp_path, small_volume):
    rot = _rotation(30, 30)
    iop = [*rot[:, 0], *rot[:, 1]]
    files = write_dicom_series(tmp_path, small_volume, spacing=(0.7, 0.9, 2.0), origin=(-50.0, 20.0, 10.0),
                               orientation=[round(v, 6) for v in iop], reverse_files=True, shuffle_instances=True)
    scan = read_dicom(tmp_path)
    assert scan.array.shape == (1, 8, 6, 5)
    np.testing.assert_allclose(scan.spacing, (0.7, 0.9, 2.0), atol=1e-5)
    # hand-computed affine: columns row*0.7, col*0.9, normal*2.0, LPS -> RAS
    normal = np.cross(rot[:, 0], rot[:, 1])
    expected = np.eye(4)
    expected[:3, :3] = LPS_TO_RAS @ np.column_stack([rot[:, 0] * 0.7, rot[:, 1] * 0.9, normal * 2.0])
    expected[:3, 3] = LPS_TO_RAS @ np.array([-50.0, 20.0, 10.0])
    np.testing.assert_allclose(scan.affine, expected, atol=1e-4)
    # corners of the volume == corners of the first and last slice from their own tags
    by_position = sorted(files, key=lambda p: np.array(pydicom.dcmread(p).ImagePositionPatient, float) @ normal)
    expected_corners = np.vstack([_slice_corners_from_tags(by_position[0]), _slice_corners_from_tags(by_position[-1])])
    got = scan.corners_world()
    for corner in expected_corners:
        assert np.min(np.linalg.norm(got - corner, axis=1)) < 1e-3
    # voxel values follow the volume, whatever the file order and InstanceNumbers
    np.testing.assert_array_equal(scan.array[0], small_volume.astype(np.float32) - 1024)


def test_order_uses_positions_not_instance_numbers(tmp_path, small_volume):
    files = write_dicom_series(tmp_path, small_volume, reverse_files=True, shuffle_instances=True, seed=3)
    numbers = [int(pydicom.dcmread(f).InstanceNumber) for f in files]
    assert numbers != sorted(numbers) and numbers != sorted(numbers, reverse=True)
    scan = read_dicom_files(files[::-1])
    np.testing.assert_array_equal(scan.array[0], small_volume - 1024.0)
    assert scan.affine[2, 2] == pytest.approx(2.5)


def test_missing_slice_is_reported_with_gap_and_instances(tmp_path, small_volume):
    write_dicom_series(tmp_path, small_volume, skip_slices=(2,))
    with pytest.raises(ScanReadError) as info:
        read_dicom(tmp_path)
    err = info.value
    assert err.code == "inconsistent_geometry" and err.path == str(tmp_path)
    assert "gap of 5.000 mm" in err.message and "instance 2" in err.message and "instance 3" in err.message


def test_missing_slice_allowed_is_flagged(tmp_path, small_volume):
    write_dicom_series(tmp_path, small_volume, skip_slices=(2,))
    scan = read_dicom(tmp_path, allow_nonuniform=True)
    assert scan.array.shape == (1, 8, 6, 4)
    assert scan.meta["slice_spacing_uniform"] is False
    assert scan.meta["slice_gap_max_deviation_mm"] == pytest.approx(2.5)
    assert scan.spacing[2] == pytest.approx(2.5)


def test_uniform_series_is_flagged_uniform(tmp_path, small_volume):
    write_dicom_series(tmp_path, small_volume)
    scan = read_dicom(tmp_path)
    assert scan.meta["slice_spacing_uniform"] is True
    assert scan.meta["slice_gap_max_deviation_mm"] < 1e-3


def test_duplicate_position_is_rejected(tmp_path, small_volume):
    write_dicom_series(tmp_path, small_volume, duplicate_slice=1)
    with pytest.raises(ScanReadError, match="duplicate slice position") as info:
        read_dicom(tmp_path)
    assert info.value.code == "inconsistent_geometry"


def test_mixed_orientations_are_rejected(tmp_path, small_volume):
    files = write_dicom_series(tmp_path, small_volume)
    ds = pydicom.dcmread(files[2])
    ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    ds.save_as(files[2])
    with pytest.raises(ScanReadError, match="mixed orientations") as info:
        read_dicom(tmp_path)
    assert info.value.code == "inconsistent_geometry"


def test_mixed_sizes_in_one_series_are_rejected(tmp_path, small_volume):
    uid = "1.2.3.4.5"
    write_dicom_series(tmp_path, small_volume, series_uid=uid)
    write_dicom_series(tmp_path / "more", small_volume[:4], series_uid=uid, origin=(0, 0, 50))
    with pytest.raises(ScanReadError, match="mixed image sizes") as info:
        read_dicom(tmp_path)
    assert info.value.code == "inconsistent_geometry"


def test_two_series_in_one_folder_are_not_stacked(tmp_path, small_volume):
    write_dicom_series(tmp_path, small_volume, series_number=1)
    write_dicom_series(tmp_path, small_volume + 1, series_number=2)
    with pytest.raises(ScanReadError, match="2 DICOM series") as info:
        read_dicom(tmp_path)
    assert info.value.code == "inconsistent_geometry"


def test_single_image_is_a_2d_scan(tmp_path, small_volume):
    (file,) = write_dicom_series(tmp_path, small_volume[:, :, :1], spacing=(0.5, 0.6, 3.0), origin=(1, 2, 3))
    scan = read_dicom(file)
    assert scan.spatial_dims == 2 and scan.array.shape == (1, 8, 6)
    assert scan.spacing == (0.5, 0.6)
    np.testing.assert_allclose(scan.affine[:3, 3], [-1, -2, 3])
    np.testing.assert_allclose(scan.affine[:3, 0], [-0.5, 0, 0])
    np.testing.assert_allclose(scan.affine[:3, 1], [0, -0.6, 0])


@pytest.mark.parametrize("kind", ["enhanced", "plain"])
def test_multiframe_geometry(tmp_path, small_volume, kind):
    rot = _rotation(0, 30)
    iop = [round(v, 6) for v in (*rot[:, 0], *rot[:, 1])]
    files = write_dicom_series(tmp_path, small_volume, multiframe=kind, orientation=iop, origin=(5, 6, 7),
                               spacing=(0.5, 0.5, 1.5), reverse_files=(kind == "enhanced"))
    assert len(files) == 1
    scan = read_dicom(files[0])
    assert scan.array.shape == (1, 8, 6, 5)
    np.testing.assert_array_equal(scan.array[0], small_volume - 1024.0)
    np.testing.assert_allclose(scan.spacing, (0.5, 0.5, 1.5), atol=1e-5)
    np.testing.assert_allclose(scan.affine[:3, 3], [-5, -6, 7], atol=1e-5)
    np.testing.assert_allclose(scan.affine[:3, 2], [0, 0, 1.5], atol=1e-5)
    np.testing.assert_allclose(scan.affine[:3, 0], LPS_TO_RAS @ rot[:, 0] * 0.5, atol=1e-5)


def test_every_axis_corner_maps_like_the_writer(tmp_path, small_volume):
    """Voxel (i, j, k) lies at origin + i*dc*row + j*dr*col + k*ds*normal (LPS) for all corners."""
    write_dicom_series(tmp_path, small_volume, spacing=(0.8, 0.6, 2.0), origin=(10, -20, 30))
    scan = read_dicom(tmp_path)
    for i, j, k in itertools.product((0, 7), (0, 5), (0, 4)):
        lps = np.array([10 + 0.8 * i, -20 + 0.6 * j, 30 + 2.0 * k])
        np.testing.assert_allclose((scan.affine @ [i, j, k, 1])[:3], LPS_TO_RAS @ lps, atol=1e-6)


def _shift_positions(files, shift_per_slice):
    """Add k * shift to ImagePositionPatient of the k-th slice along z (simulates tilt/jitter)."""
    for f in files:
        ds = pydicom.dcmread(f)
        ipp = np.array(ds.ImagePositionPatient, float)
        k = round(ipp[2] / 2.5)
        ds.ImagePositionPatient = [round(v, 4) for v in ipp + shift_per_slice(k)]
        ds.save_as(f)


def test_gantry_tilt_keeps_shear_and_exact_corners(tmp_path, small_volume):
    files = write_dicom_series(tmp_path, small_volume)
    _shift_positions(files, lambda k: np.array([0.0, 0.4 * k, 0.0]))  # y drifts 0.4 mm per slice
    scan = read_dicom(tmp_path)
    np.testing.assert_allclose(scan.affine[:3, 2], [0, -0.4, 2.5], atol=1e-6)
    last = np.array([0, 0.4 * 4, 10.0]) @ LPS_TO_RAS.T
    np.testing.assert_allclose(scan.affine @ [0, 0, 4, 1], [*last, 1], atol=1e-6)
    assert any("gantry tilt" in w for w in scan.meta["warnings"])


def test_positions_off_a_line_are_rejected(tmp_path, small_volume):
    files = write_dicom_series(tmp_path, small_volume)
    _shift_positions(files, lambda k: np.array([3.0 if k == 2 else 0.0, 0.0, 0.0]))
    with pytest.raises(ScanReadError, match="do not lie on a line") as info:
        read_dicom(tmp_path)
    assert info.value.code == "inconsistent_geometry"
