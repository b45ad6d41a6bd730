"""End to end with a real Orthanc: score a DICOMweb query, store DICOM SEG / SR back, resume."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from medtl.infer.score import score
from medtl.pacs import parse_dicomweb_url
from medtl.pacs.client import make_client
from medtl.pacs.fetch import query_series
from tests.infer import helpers
from tests.pacs.conftest import PATIENT_ID, PATIENT_NAME, ROOT


@pytest.fixture(scope="module")
def seg_model(tmp_path_factory):
    return helpers.seg_model_dir(tmp_path_factory.mktemp("seg_model") / "run")


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Where the run's temporary series folders go, to check they are removed."""
    import tempfile

    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _ct_url(orthanc) -> str:
    return f"{orthanc.dicomweb_url}?Modality=CT"


def _comparable(out: Path) -> dict[str, object]:
    """Every output that must not depend on where the files came from (decoded where needed)."""
    found = {"predictions.csv": (out / "predictions.csv").read_text(), "errors.jsonl": (out / "errors.jsonl").read_text()}
    for path in sorted((out / "cases").rglob("case.json")):
        found[str(path.relative_to(out))] = json.loads(path.read_text())
    for path in sorted((out / "masks").glob("*.nii.gz")):
        found[str(path.relative_to(out))] = np.asarray(nib.load(path).dataobj).tobytes()
    for path in sorted((out / "cases").rglob("preview.npz")):
        with np.load(path) as z:
            # the 8-bit entropy map is compared within one level (_entropy_maps): the killed run scored in a
            # 1-thread process, the others with 2 threads; convolutions then differ in the last bits, which
            # moves a voxel across a quantisation step now and then
            found[str(path.relative_to(out))] = {k: z[k].tobytes() for k in z.files if k != "entropy"}
    for path in sorted((out / "seg").glob("*.dcm")):
        found[str(path.relative_to(out))] = pydicom.dcmread(path).pixel_array.tobytes()
    return found


def _entropy_maps(out: Path) -> dict[str, np.ndarray]:
    maps = {}
    for path in sorted((out / "cases").rglob("preview.npz")):
        with np.load(path) as z:
            if "entropy" in z.files:
                maps[str(path.relative_to(out))] = z["entropy"].astype(np.float64)
    return maps


def _assert_no_identifiers(out: Path) -> None:
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            data = gzip.decompress(data) if path.suffix == ".gz" else data
            for canary in (PATIENT_NAME.split("^")[1], PATIENT_ID):
                assert canary.encode() not in data, f"{canary} in {path}"


def test_score_dicomweb_matches_folder_and_stores_seg(pacs_env, study, seg_model, tmp_path, private_tmp):
    orthanc = pacs_env
    web, files = tmp_path / "web", tmp_path / "files"
    summary = score(seg_model, [_ct_url(orthanc)], web, workers=1, quiet=True, store_results=orthanc.dicomweb_url)
    assert (summary.total, summary.ok, summary.store_failed) == (3, 3, 0)
    assert list(private_tmp.iterdir()) == []  # the retrieved series are deleted
    score(seg_model, [study["root"] / "ct"], files, workers=0, quiet=True)
    assert _comparable(web) == _comparable(files)
    ct_uids = sorted(uid for uid, m in study["series"].items() if m == "CT")
    rows = (web / "predictions.csv").read_text().splitlines()[1:]
    assert sorted(r.split(",")[1] for r in rows) == ct_uids  # source = SeriesInstanceUID
    manifest = json.loads((web / "run_manifest.json").read_text())
    assert manifest["inputs"] == [_ct_url(orthanc)]
    _assert_no_identifiers(web)

    # the SEGs are in Orthanc, each referencing the series it segments
    client = make_client(parse_dicomweb_url(orthanc.dicomweb_url))
    segs = query_series(client, {"Modality": "SEG"})
    referenced = set()
    for ref in segs:
        for ds in client.retrieve_series(ref.study_uid, ref.series_uid):
            referenced.add(str(ds.ReferencedSeriesSequence[0].SeriesInstanceUID))
            assert ds.StudyInstanceUID == study["study_uid"]
    assert referenced == set(ct_uids)
    stored = json.loads((web / "store_results.json").read_text())
    assert [c["status"] for c in stored["cases"]] == ["ok"] * 3


def test_classification_sr_stored(pacs_env, study, tmp_path):
    from pydicom.sr.codedict import codes

    orthanc = pacs_env
    model = helpers.make_model_dir(tmp_path / "cls", spatial_dims=3, image_size=(32, 32, 16), intensity="ct_window")
    mr_uid = next(uid for uid, m in study["series"].items() if m == "MR")
    url = f"{orthanc.dicomweb_url}?SeriesInstanceUID={mr_uid}"
    from medtl.cli.main import main

    argv = ["score", "--model", str(model), "--input", url, "--output", str(tmp_path / "out"), "--workers", "0",
            "--quiet", "--store-results", orthanc.dicomweb_url]
    assert main(argv) == 0
    row = (tmp_path / "out" / "predictions.csv").read_text().splitlines()
    values = dict(zip(row[0].split(","), row[1].split(",")))
    client = make_client(parse_dicomweb_url(orthanc.dicomweb_url))
    (ref,) = query_series(client, {"Modality": "SR"})
    (sr,) = client.retrieve_series(ref.study_uid, ref.series_uid)
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.SeriesInstanceUID == mr_uid
    items = {item.ConceptNameCodeSequence[0].CodeMeaning: item for item in sr.ContentSequence}
    assert items[codes.DCM.Finding.meaning].TextValue == values["predicted_label"]
    for name in ("absent", "present"):
        value = float(items[f"Probability of {name}"].MeasuredValueSequence[0].NumericValue)
        assert value == pytest.approx(float(values[f"prob_{name}"]), abs=1e-6)
    assert PATIENT_ID not in str(sr.PatientID)


def test_failed_series_is_reported_and_run_goes_on(pacs_env, study, seg_model, tmp_path, monkeypatch):
    """A series the server cannot deliver (here: listed by the query but unknown to WADO-RS, a real 404)."""
    from medtl.pacs import fetch, source

    real = fetch.query_series

    def with_ghost(client, filters):
        return real(client, filters) + [fetch.SeriesRef(study["study_uid"], "1.2.3.999", "CT")]

    monkeypatch.setattr(source, "query_series", with_ghost)
    summary = score(seg_model, [_ct_url(pacs_env)], tmp_path / "out", workers=0, quiet=True)
    assert (summary.ok, summary.failed, summary.exit_code) == (3, 1, 1)
    (error,) = [json.loads(line) for line in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    assert error["source"] == "1.2.3.999" and error["code"] == "dicomweb_http"


def test_bad_credentials_are_one_clear_error(pacs_env, tmp_path, seg_model, monkeypatch):
    from medtl.errors import MedtlError

    monkeypatch.setenv("MEDTL_DICOMWEB_PASSWORD", "wrong")
    with pytest.raises(MedtlError) as info:
        score(seg_model, [_ct_url(pacs_env)], tmp_path / "out", workers=0, quiet=True)
    assert info.value.code == "dicomweb_auth" and "wrong" not in str(info.value)


def test_inspect_dicomweb(pacs_env, study, capsys):
    from medtl.cli.main import main

    assert main(["inspect", pacs_env.dicomweb_url + "?Modality=MR", "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    mr_uid = next(uid for uid, m in study["series"].items() if m == "MR")
    assert (record["id"], record["modality"], record["shape"]) == (mr_uid, "MR", [32, 32, 6])


def _results(out: Path) -> int:
    return len(list((out / "results").glob("*.json"))) if (out / "results").is_dir() else 0


@pytest.fixture(scope="module")
def long_study(orthanc, tmp_path_factory):
    """Eight larger CT series in a study of their own: a run long enough to be killed mid-way."""
    from medtl.data.synthetic import write_dicom_series

    uid = "1.2.826.0.1.3680043.8.498.778"
    for n in range(8):
        folder = tmp_path_factory.mktemp(f"long{n}")
        for f in write_dicom_series(folder, helpers.ct_volume((64, 64, 24), seed=10 + n), study_uid=uid,
                                    series_number=n + 1, seed=10 + n):
            orthanc.upload(f)
    return uid


def test_sigterm_mid_run_deletes_the_retrieved_series(pacs_env, long_study, seg_model, tmp_path):
    url = f"{pacs_env.dicomweb_url}?StudyInstanceUID={long_study}"
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TMPDIR": str(tmpdir)}
    cmd = [sys.executable, "-m", "medtl.cli.main", "score", "--model", str(seg_model), "--input", url,
           "--output", str(tmp_path / "out"), "--batch-size", "1", "--workers", "0", "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _results(tmp_path / "out") < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert list(tmpdir.glob("medtl-dicomweb-*"))  # the series are there while it runs
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # as `timeout` does (the process, then its group): ignored while unwinding
    assert proc.wait(timeout=60) != 0
    assert list(tmpdir.iterdir()) == []


@pytest.mark.slow
def test_kill_mid_run_then_resume_gives_the_same_result(pacs_env, long_study, seg_model, tmp_path):
    """kill -9 the CLI after its first cases are recorded, resume, compare with an uninterrupted run."""
    url = f"{pacs_env.dicomweb_url}?StudyInstanceUID={long_study}"
    out, ref = tmp_path / "killed", tmp_path / "ref"
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TMPDIR": str(tmpdir)}
    cmd = [sys.executable, "-m", "medtl.cli.main", "score", "--model", str(seg_model), "--input", url,
           "--output", str(out), "--batch-size", "1", "--workers", "0", "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _results(out) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _results(out)
    assert 2 <= done < 8, f"the run was not killed mid-way ({done} of 8 cases recorded)"
    resumed = score(seg_model, [url], out, resume=True, workers=0, quiet=True)
    assert (resumed.ok, resumed.skipped) == (8, done)
    score(seg_model, [url], ref, workers=0, quiet=True)
    assert _comparable(out) == _comparable(ref)
    a, b = _entropy_maps(out), _entropy_maps(ref)
    assert a.keys() == b.keys() and all(np.abs(a[k] - b[k]).max() <= 1 for k in a)  # 8-bit levels
    # a kill -9 cannot clean up: the private folder it leaves is mode 0700
    for left in tmpdir.iterdir():
        assert left.stat().st_mode & 0o077 == 0


def test_launcher_prints_the_url_and_cleans_up_on_ctrl_c(orthanc, tmp_path):
    """scripts/orthanc_local.py as a user runs it: URL and credentials printed, Ctrl-C stops it."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "orthanc_local.py")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("Orthanc with DICOMweb at dicomweb://127.0.0.1:")
        assert proc.stdout.readline().startswith("export MEDTL_DICOMWEB_USER=medtl MEDTL_DICOMWEB_PASSWORD=")
        assert len(list(tmp_path.glob("medtl-orthanc-*"))) == 1
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    assert list(tmp_path.glob("medtl-orthanc-*")) == []
