"""inspect_path records: the objects ``medtl inspect --json`` prints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from medtl.data.inspect import format_table, inspect_path
from medtl.data.synthetic import write_dicom_series, write_nifti
from medtl.errors import SCAN_ERROR_CODES


def test_records_have_the_contract_keys_and_values(tmp_path, small_volume):
    write_dicom_series(tmp_path / "ct", small_volume, spacing=(0.5, 0.7, 2.0), origin=(1, 2, 3))
    write_dicom_series(tmp_path / "gap", small_volume, skip_slices=(1,))
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    write_nifti(tmp_path / "vol.nii.gz", small_volume.astype(np.float32), affine)
    (tmp_path / "profile.icc").write_bytes(b"\x00" * 10)
    records = {r["id"]: r for r in inspect_path(tmp_path)}
    json.dumps(list(records.values()))  # serialisable
    ct = records["ct"]
    assert set(ct) >= {"id", "path", "format", "modality", "shape", "spacing", "affine", "n_files", "error"}
    assert ct["format"] == "dicom" and ct["modality"] == "CT" and ct["n_files"] == 5
    assert ct["shape"] == [8, 6, 5] and ct["spacing"] == [0.5, 0.7, 2.0] and ct["error"] is None
    assert np.allclose(ct["affine"], [[-0.5, 0, 0, -1], [0, -0.7, 0, -2], [0, 0, 2, 3], [0, 0, 0, 1]])
    assert records["gap"]["error"]["code"] == "inconsistent_geometry" and records["gap"]["shape"] is None
    vol = records["vol.nii.gz"]
    assert vol["format"] == "nifti" and vol["error"] is None and vol["spacing"] == [2.0, 3.0, 4.0]
    assert vol["shape"] == [8, 6, 5] and vol["n_files"] == 1
    assert records["profile.icc"]["error"]["code"] == "unsupported_format"


def test_table_lists_every_scan_and_a_summary(tmp_path, small_volume):
    write_dicom_series(tmp_path / "ct", small_volume)
    (tmp_path / "x.dcm").write_bytes(b"garbage")
    table = format_table(inspect_path(tmp_path))
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["id", "format", "modality"]
    assert any(line.startswith("ct ") and "8x6x5" in line and line.rstrip().endswith("ok") for line in lines)
    assert any(line.startswith("x.dcm") and "not_dicom" in line for line in lines)
    assert lines[-1] == "2 scan(s), 1 ok, 1 failed"


@pytest.mark.timeout(120)
def test_inspect_whole_pydicom_test_folder_never_raises():
    folder = Path(pydicom.__file__).parent / "data" / "test_files"
    if not folder.is_dir():
        pytest.skip("pydicom test files not installed")
    records = inspect_path(folder)
    assert len(records) > 50
    assert any(r["error"] is None and r["format"] == "dicom" for r in records)
    assert all(r["error"] is None or r["error"]["code"] in SCAN_ERROR_CODES for r in records)
    json.dumps(records)
