import pytest

from medtl.errors import MedtlError
from medtl.pacs import is_dicomweb_url, parse_dicomweb_url


def test_scheme_gives_http_or_https_and_filters():
    url = parse_dicomweb_url("dicomweb://pacs.example:8042/dicom-web/?Modality=CT&StudyDate=20240101-")
    assert url.base == "http://pacs.example:8042/dicom-web"
    assert url.filters == {"Modality": "CT", "StudyDate": "20240101-"}
    assert parse_dicomweb_url("dicomwebs://pacs.example/wado/rs").base == "https://pacs.example/wado/rs"
    assert parse_dicomweb_url("DICOMWEB://[::1]:80/x").base == "http://[::1]:80/x"


def test_is_dicomweb_url():
    assert is_dicomweb_url("dicomweb://h/x") and is_dicomweb_url("dicomwebs://h")
    assert not is_dicomweb_url("scans/dicomweb") and not is_dicomweb_url("http://h/x") and not is_dicomweb_url(3)


@pytest.mark.parametrize("text, words", [
    ("http://pacs/x", "not a DICOMweb URL"),
    ("dicomweb:///x", "no host"),
    ("dicomweb://pacs:99999/x", "invalid port"),
    ("dicomweb://pacs/x?Modallity=CT", "unknown QIDO filter 'Modallity'"),
    ("dicomweb://pacs/x?Modality=CT&Modality=MR", "given twice"),
])
def test_bad_urls_are_usage_errors(text, words):
    with pytest.raises(MedtlError) as info:
        parse_dicomweb_url(text)
    assert info.value.code == "usage" and words in info.value.message


def test_credentials_in_the_url_are_refused_and_not_repeated():
    with pytest.raises(MedtlError) as info:
        parse_dicomweb_url("dicomweb://alice:s3cret@pacs:8042/dicom-web")
    assert info.value.code == "usage" and "s3cret" not in str(info.value) and "alice" not in str(info.value)


def test_redacted_hides_identifying_filter_values():
    url = parse_dicomweb_url("dicomwebs://pacs/rs?PatientID=12345&PatientName=DOE*&AccessionNumber=A1&Modality=MR")
    assert url.redacted == "dicomwebs://pacs/rs?PatientID=***&PatientName=***&AccessionNumber=***&Modality=MR"
