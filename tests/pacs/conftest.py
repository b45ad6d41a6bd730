"""A private Orthanc with DICOMweb on loopback (scripts/orthanc_local.py), and a small CT study in it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATIENT_NAME, PATIENT_ID = "DOE^CANARY7Q", "PIDCANARY7Q"


def _launcher():
    spec = importlib.util.spec_from_file_location("orthanc_local", ROOT / "scripts" / "orthanc_local.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def orthanc():
    launcher = _launcher()
    if launcher.find_orthanc() is None:
        pytest.skip("Orthanc with its DICOMweb plugin is not installed (Debian: orthanc orthanc-dicomweb; "
                    ".ci/run installs them)")
    with launcher.LocalOrthanc() as server:
        yield server


@pytest.fixture
def pacs_env(orthanc, monkeypatch):
    """Credentials of the test Orthanc in the environment, as a user would set them."""
    for name in ("MEDTL_DICOMWEB_TOKEN", "MEDTL_DICOMWEB_NETRC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEDTL_DICOMWEB_USER", orthanc.user)
    monkeypatch.setenv("MEDTL_DICOMWEB_PASSWORD", orthanc.password)
    return orthanc


@pytest.fixture(scope="module")
def study(orthanc, tmp_path_factory):
    """Three CT series and one MR series of one patient, uploaded to Orthanc and kept as files in
    ``<folder>/<SeriesInstanceUID>/`` (the CT ones under ``ct``, the MR one under ``mr``)."""
    from medtl.data.synthetic import write_dicom_series
    from tests.infer.helpers import ct_volume

    root = tmp_path_factory.mktemp("study")
    study_uid = "1.2.826.0.1.3680043.8.498.777"
    series = {}
    for n, (modality, shape) in enumerate([("CT", (40, 36, 12)), ("CT", (36, 40, 10)), ("CT", (32, 32, 8)),
                                           ("MR", (32, 32, 6))], start=1):
        files = write_dicom_series(root / "tmp", ct_volume(shape, seed=n), modality=modality, study_uid=study_uid,
                                   patient_name=PATIENT_NAME, patient_id=PATIENT_ID, series_number=n, seed=n)
        import pydicom

        uid = str(pydicom.dcmread(files[0], stop_before_pixels=True).SeriesInstanceUID)
        target = root / modality.lower() / uid
        target.mkdir(parents=True)
        for f in files:
            f.rename(target / f.name)
            orthanc.upload(target / f.name)
        series[uid] = modality
    return {"root": root, "study_uid": study_uid, "series": series}
