import importlib.util
from pathlib import Path

import numpy as np
import pydicom
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("make_sample_data", ROOT / "scripts" / "make_sample_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(script, tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "sample_data"
    assert script.main(["--out", str(out)]) == 0
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic_and_small(script, generated, tmp_path):
    again = tmp_path / "again"
    assert script.main(["--out", str(again)]) == 0
    first, second = _files(generated), _files(again)
    assert first.keys() == second.keys() and len(first) > 200
    assert [k for k in first if first[k] != second[k]] == []
    assert sum(len(b) for b in first.values()) < 5_000_000


def test_if_missing_leaves_existing_data(script, generated):
    csv = generated / "classification.csv"
    before = csv.stat().st_mtime_ns
    assert script.main(["--out", str(generated), "--if-missing"]) == 0
    assert csv.stat().st_mtime_ns == before


def test_manifests_load_and_split_by_patient(generated):
    from medtl.data import load_source

    cls = load_source(generated / "classification.csv", task="classification")
    assert cls.label_names == ["absent", "present"] and cls.spatial_dims == 2 and cls.in_channels == 1
    patients = {s: {r["patient_id"] for r in recs} for s, recs in cls.records.items()}
    assert all(patients.values()) and not (patients["train"] & (patients["val"] | patients["test"]))
    labels = [r["label"] for recs in cls.records.values() for r in recs]
    assert 0.3 < np.mean(labels) < 0.7
    seg = load_source(generated / "segmentation.csv", task="segmentation")
    assert seg.label_names == ["background", "lesion"] and seg.modality == "CT" and seg.spatial_dims == 3
    assert seg.counts() == {"train": 28, "val": 6, "test": 6}


def test_volumes_masks_and_dicom(generated):
    from medtl.data.nifti import read_nifti

    img, mask = read_nifti(generated / "nifti" / "case_00.nii.gz"), read_nifti(generated / "masks" / "case_00.nii.gz")
    assert img.spatial_shape == mask.spatial_shape == (32, 32, 32)
    lesion = mask.array[0] > 0
    assert lesion.sum() > 20 and img.array[0][lesion].mean() > img.array[0][~lesion & (img.array[0] > -500)].mean() + 50
    assert read_nifti(generated / "masks" / "case_01.nii.gz").array.max() == 0  # a quarter have no lesion
    folders = {"ct_axial": 1, "two_series": 2, "oblique": 1}
    for name, n_series in folders.items():
        files = sorted((generated / "dicom" / name).glob("*.dcm"))
        headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
        assert len({h.SeriesInstanceUID for h in headers}) == n_series
        assert all(str(h.PatientName).startswith("SYNTH^") for h in headers)
        assert all(h.RescaleIntercept == -1024 for h in headers)
    oblique = pydicom.dcmread(sorted((generated / "dicom" / "oblique").glob("*.dcm"))[0])
    assert abs(float(oblique.ImageOrientationPatient[0]) - 1.0) > 0.05
