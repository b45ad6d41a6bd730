"""Every file bundled in pydicom's test folder (every transfer syntax, some deliberately broken)
is either read or rejected with a reason code: no unhandled exception, no hang."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from medtl.data.read import read_scan
from medtl.errors import SCAN_ERROR_CODES, ScanReadError

FOLDER = Path(pydicom.__file__).parent / "data" / "test_files"
# only files already on disk: get_testdata_files() may download the others
FILES = sorted(p for p in FOLDER.rglob("*") if p.is_file()) if FOLDER.is_dir() else []


def test_bundled_folder_is_present():
    assert len(FILES) > 50, f"expected pydicom's bundled test files under {FOLDER}"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(FOLDER)) for p in FILES])
def test_read_or_reject_with_reason(path):
    try:
        scan = read_scan(path)
    except ScanReadError as exc:
        assert exc.code in SCAN_ERROR_CODES
        assert exc.path == str(path) and exc.message
        return
    assert scan.array.dtype == np.float32 and scan.array.ndim in (3, 4)
    assert np.isfinite(scan.affine).all() and all(s > 0 for s in scan.spacing)


@pytest.mark.parametrize("name,code", [
    ("reportsi.dcm", "non_image_sop"),
    ("rtstruct.dcm", "non_image_sop"),
    ("MR_truncated.dcm", "undecodable_transfer_syntax"),
    ("crayons.icc", "unsupported_format"),
    ("README.txt", "unsupported_format"),
])
def test_known_bad_files_get_the_right_code(name, code):
    if not (FOLDER / name).is_file():
        pytest.skip(f"{name} not bundled")
    with pytest.raises(ScanReadError) as info:
        read_scan(FOLDER / name)
    assert info.value.code == code


def test_rt_dose_frames_use_grid_frame_offsets():
    path = FOLDER / "rtdose.dcm"
    if not path.is_file():
        pytest.skip("rtdose.dcm not bundled")
    ds = pydicom.dcmread(path)
    scan = read_scan(path)
    offsets = np.array(ds.GridFrameOffsetVector, dtype=float)
    assert scan.array.shape[-1] == int(ds.NumberOfFrames)
    assert scan.spacing[2] == pytest.approx(abs(offsets[1] - offsets[0]))
