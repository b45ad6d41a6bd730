"""Scan discovery: series grouping, one ref per other file, errors kept, read_ref / read_scan."""

from __future__ import annotations

import numpy as np
import pytest

from medtl.data import discover_scans, read_ref, read_scan
from medtl.data.synthetic import write_dicom_non_image, write_dicom_series
from medtl.errors import ScanReadError


@pytest.fixture
def tree(tmp_path, small_volume):
    write_dicom_series(tmp_path / "study" / "mixed", small_volume, series_number=1)
    write_dicom_series(tmp_path / "study" / "mixed", small_volume[:, :, :3] + 1, series_number=2, origin=(0, 0, 100))
    write_dicom_series(tmp_path / "study" / "ct", small_volume, reverse_files=True)
    write_dicom_series(tmp_path / "xray", small_volume[:, :, :1], modality="DX", series_number=3)
    write_dicom_non_image(tmp_path / "study" / "report.dcm")
    (tmp_path / "notes.txt").write_text("not a scan")
    (tmp_path / ".hidden").write_text("skipped")
    return tmp_path


def test_series_grouping_and_ids(tree):
    refs = discover_scans(tree)
    assert [(r.path, r.id) for r in refs] == sorted((r.path, r.id) for r in refs)
    by_id = {r.id.split("#")[0]: r for r in refs}
    mixed = [r for r in refs if r.id.startswith("study/mixed#")]
    assert len(mixed) == 2 and {len(r.files) for r in mixed} == {5, 3}
    assert all(r.path == str(tree / "study" / "mixed") and r.series_uid for r in mixed)
    ct = by_id["study/ct"]
    assert ct.format == "dicom" and len(ct.files) == 5 and ct.error is None
    xray = [r for r in refs if r.id.startswith("xray/")]
    assert len(xray) == 1 and xray[0].path.endswith(".dcm") and len(xray[0].files) == 1
    assert by_id["study/report.dcm"].error.code == "non_image_sop"
    assert by_id["notes.txt"].error.code == "unsupported_format" and by_id["notes.txt"].format == "unknown"
    assert not any(".hidden" in r.path for r in refs)
    assert len(refs) == 6


def test_read_ref_reads_exactly_one_series(tree, small_volume):
    refs = {len(r.files): r for r in discover_scans(tree) if r.id.startswith("study/mixed#")}
    three = read_ref(refs[3])
    np.testing.assert_array_equal(three.array[0], small_volume[:, :, :3] + 1 - 1024.0)
    assert read_ref(refs[5]).array.shape == (1, 8, 6, 5)
    assert three.files == sorted(refs[3].files)


def test_read_ref_raises_the_discovery_error(tree):
    (report,) = [r for r in discover_scans(tree) if r.id == "study/report.dcm"]
    with pytest.raises(ScanReadError) as info:
        read_ref(report)
    assert info.value.code == "non_image_sop"


def test_discover_a_single_file(tree):
    (ref,) = discover_scans(tree / "notes.txt")
    assert ref.id == "notes.txt" and ref.error.code == "unsupported_format"


def test_discover_missing_root(tmp_path):
    with pytest.raises(ScanReadError) as info:
        discover_scans(tmp_path / "nope")
    assert info.value.code == "not_found"


def test_read_scan_on_a_series_folder_and_canonical(tmp_path, small_volume):
    # rows run anterior -> posterior flipped: column cosine (0, -1, 0) so RAS reorientation flips axis 1
    write_dicom_series(tmp_path, small_volume, orientation=(1, 0, 0, 0, -1, 0))
    scan = read_scan(tmp_path)
    canon = read_scan(tmp_path, canonical=True)
    assert canon.array.shape == scan.array.shape
    # canonical: every axis points to +R, +A, +S
    assert np.all(np.diag(canon.affine[:3, :3]) > 0)
    assert np.allclose(canon.corners_world().min(axis=0), scan.corners_world().min(axis=0))
    # the same voxel keeps its world position
    i, j, k = 2, 1, 3
    world = scan.affine @ [i, j, k, 1]
    index = np.linalg.solve(canon.affine, world)[:3].round().astype(int)
    assert canon.array[(0, *index)] == scan.array[0, i, j, k]


def test_root_that_is_one_series_folder(tmp_path, small_volume):
    write_dicom_series(tmp_path / "series", small_volume)
    (ref,) = discover_scans(tmp_path / "series")
    assert ref.id == "series" and ref.path == str(tmp_path / "series") and len(ref.files) == 5
    assert read_ref(ref).spatial_shape == (8, 6, 5)
