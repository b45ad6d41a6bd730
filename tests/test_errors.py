import pickle

import pytest

from medtl.errors import SCAN_ERROR_CODES, ConfigError, MedtlError, ScanReadError, WeightsError


def test_scan_error_names_file_and_code():
    err = ScanReadError("not_dicom", "no DICOM preamble", path="/data/a.txt")
    assert err.code == "not_dicom"
    assert str(err) == "/data/a.txt: no DICOM preamble [not_dicom]"
    assert err.to_dict() == {"code": "not_dicom", "message": "no DICOM preamble", "path": "/data/a.txt"}


def test_unknown_scan_code_is_refused():
    with pytest.raises(ValueError):
        ScanReadError("made_up", "x")


@pytest.mark.parametrize("err", [
    ScanReadError(SCAN_ERROR_CODES[0], "m", path="f.dcm"),
    WeightsError("missing", path="w.pth", code="weights_missing"),
    ConfigError("bad key"),
])
def test_errors_survive_pickling_with_their_code(err):
    # DataLoader workers and torchrun ranks send exceptions between processes by pickling.
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert (back.code, back.path, back.message) == (err.code, err.path, err.message)
    assert isinstance(back, MedtlError)
