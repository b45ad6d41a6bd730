from __future__ import annotations

import csv
import json

import numpy as np
import pydicom
import pytest

from medtl.data import read_scan
from medtl.errors import MedtlError
from medtl.infer.score import score

from . import helpers


def _rows(out):
    return list(csv.DictReader(open(out / "predictions.csv")))


@pytest.fixture(scope="module")
def cls_run(cls_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("cls")
    helpers.write_pngs(root / "in" / "sub", 5)
    (root / "in" / "broken.png").write_bytes(b"\x89PNG not really")
    out = root / "out"
    summary = score(cls_model, [root / "in"], out, workers=1, batch_size=2, quiet=True)
    return root, out, summary


def test_classification_outputs(cls_run, cls_model):
    root, out, summary = cls_run
    assert (summary.total, summary.ok, summary.failed, summary.exit_code) == (6, 5, 1, 1)
    rows = _rows(out)
    assert [r["case_id"] for r in rows] == ["broken"] + [f"sub__img_{i:03d}" for i in range(5)]
    ok = [r for r in rows if r["status"] == "ok"]
    for r in ok:
        p = float(r["prob_absent"]) + float(r["prob_present"])
        assert p == pytest.approx(1.0, abs=1e-5)
        assert r["predicted_label"] in ("absent", "present") and 0 <= float(r["uncertainty"]) <= 1
        assert r["source"].startswith("sub/")
    errors = [json.loads(line) for line in open(out / "errors.jsonl")]
    assert errors == [{"case_id": "broken", "source": "broken.png", "code": "unreadable_image",
                       "message": errors[0]["message"]}]
    manifest = json.loads((out / "run_manifest.json").read_text())
    info = json.loads((cls_model / "model.json").read_text())
    assert manifest["model_id"] == info["model_id"] == manifest["weights_sha256"]
    assert manifest["counts"] == {"total": 6, "ok": 5, "failed": 1, "skipped_resumed": 0}
    case = manifest["cases"]["sub__img_001"]
    from medtl.fileio import sha256_file

    assert case["input_sha256"] == sha256_file(root / "in" / "sub" / "img_001.png")
    assert sorted(case["outputs"]) == ["cases/sub__img_001/case.json", "cases/sub__img_001/preview.npz"]
    assert manifest["started"] <= manifest["finished"]


def test_review_artefacts(cls_run):
    _, out, _ = cls_run
    z = np.load(out / "cases" / "sub__img_002" / "preview.npz")
    assert z["image"].shape == (40, 48) and z["image"].max() > 100  # 48 rows x 40 cols -> (W, H)
    assert z["image"].dtype == np.uint8  # an 8-bit PNG, not resampled: stored exactly as uint8
    assert z["cam"].shape == z["image"].shape and z["cam"].dtype == np.uint8  # 0..255 = 0..1
    assert z["affine"].shape == (4, 4) and list(z["spacing"]) == [1.0, 1.0]
    case = json.loads((out / "cases" / "sub__img_002" / "case.json").read_text())
    row = next(r for r in _rows(out) if r["case_id"] == "sub__img_002")
    assert case["predicted_label"] == row["predicted_label"]
    assert case["probabilities"]["present"] == pytest.approx(float(row["prob_present"]))
    assert case["shape"] == [40, 48] and case["task"] == "classification"


def test_resume_skips_done_and_redoes_partial_or_changed(cls_run, cls_model):
    root, out, _ = cls_run
    before = _rows(out)
    (out / "cases" / "sub__img_003" / "preview.npz").unlink()  # partial case
    helpers.write_pngs(root / "in" / "sub", 1, seed=7)  # img_000 changed on disk
    mtime = (out / "results" / "sub__img_004.json").stat().st_mtime_ns
    s = score(cls_model, [root / "in"], out, resume=True, workers=0, quiet=True)
    assert s.skipped == 3  # img_001, 002, 004; broken and changed/partial ones are redone
    assert (out / "results" / "sub__img_004.json").stat().st_mtime_ns == mtime
    assert (out / "cases" / "sub__img_003" / "preview.npz").is_file()
    after = _rows(out)
    assert [r["case_id"] for r in after] == [r["case_id"] for r in before]
    changed = {r["case_id"] for r, b in zip(after, before) if r != b}
    assert changed <= {"sub__img_000"}
    assert json.loads((out / "run_manifest.json").read_text())["counts"]["skipped_resumed"] == 3


def test_tta_adds_disagreement(cls_model, tmp_path):
    helpers.write_pngs(tmp_path / "in", 3)
    score(cls_model, [tmp_path / "in"], tmp_path / "out", tta=True, workers=0, quiet=True, cam=False)
    rows = _rows(tmp_path / "out")
    assert all(0 <= float(r["tta_disagreement"]) <= 1 for r in rows)
    assert "cam" not in np.load(tmp_path / "out" / "cases" / "img_000" / "preview.npz")


def test_segmentation_masks_keep_input_geometry(seg_model, tmp_path):
    """NIfTI (anisotropic, 3 mm slices) and DICOM inputs: mask shape and affine == the input's."""
    nii = helpers.write_ct_nifti(tmp_path / "in" / "aniso.nii.gz")
    helpers.write_ct_series(tmp_path / "in" / "ct")
    out = tmp_path / "out"
    s = score(seg_model, [tmp_path / "in"], out, workers=0, batch_size=2, quiet=True)
    assert s.exit_code == 0
    for case_id, src in (("aniso", nii), ("ct", tmp_path / "in" / "ct")):
        original, mask = read_scan(src), read_scan(out / "masks" / f"{case_id}.nii.gz")
        assert mask.spatial_shape == original.spatial_shape
        np.testing.assert_allclose(mask.affine, original.affine, atol=1e-5)
        z = np.load(out / "cases" / case_id / "preview.npz")
        assert z["mask"].shape == z["image"].shape and z["mask"].dtype == np.uint8
    rows = {r["case_id"]: r for r in _rows(out)}
    m = read_scan(out / "masks" / "aniso.nii.gz").array
    assert float(rows["aniso"]["volume_ml_lesion"]) == pytest.approx((m == 1).sum() * 0.7 * 0.9 * 3.0 / 1000, rel=1e-4)
    seg = pydicom.dcmread(out / "seg" / "ct.dcm")
    src = pydicom.dcmread(sorted((tmp_path / "in" / "ct").iterdir())[0], stop_before_pixels=True)
    assert seg.Modality == "SEG" and seg.StudyInstanceUID == src.StudyInstanceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == src.SeriesInstanceUID
    assert seg.FrameOfReferenceUID == src.FrameOfReferenceUID
    assert int(seg.NumberOfFrames) == 10
    assert json.loads((out / "run_manifest.json").read_text())["cases"]["ct"]["outputs"] == [
        "masks/ct.nii.gz", "seg/ct.dcm", "cases/ct/preview.npz", "cases/ct/case.json"]


def test_nothing_found_and_bad_format(cls_model, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MedtlError) as err:
        score(cls_model, [tmp_path / "empty"], tmp_path / "out", workers=0, quiet=True)
    assert err.value.code == "usage"
    with pytest.raises(MedtlError):
        score(cls_model, [tmp_path / "empty"], tmp_path / "out", formats=("xls",), quiet=True)


def test_output_inside_input_is_not_rescored(cls_model, tmp_path):
    helpers.write_pngs(tmp_path / "in", 2)
    score(cls_model, [tmp_path / "in"], tmp_path / "in" / "out", workers=0, quiet=True)
    s = score(cls_model, [tmp_path / "in"], tmp_path / "in" / "out", workers=0, quiet=True)
    assert s.total == 2


def test_a_case_the_model_cannot_take_fails_alone():
    """When a batch fails, each case is retried alone: only the bad one fails (predict_failed)."""
    import torch

    from medtl.infer.score import _predict

    class Picky:
        def __call__(self, x):
            if x.shape[0] > 1 or x[0].sum() < 0:
                raise RuntimeError("boom")
            return [x[0]]

    class It:
        def __init__(self, v):
            self.x = torch.full((1, 2, 2), float(v))

    items = [It(1), It(-1), It(2)]
    out = _predict(Picky(), items)
    assert [type(p).__name__ for _, p in out] == ["Tensor", "RuntimeError", "Tensor"]


def test_manifest_csv_input(cls_model, tmp_path):
    helpers.write_pngs(tmp_path / "data" / "imgs", 3)
    (tmp_path / "data" / "list.csv").write_text("image,label\nimgs/img_002.png,a\nimgs/img_000.png,b\n")
    s = score(cls_model, [tmp_path / "data" / "list.csv"], tmp_path / "out", workers=0, quiet=True)
    assert s.ok == 2
    assert [(r["case_id"], r["source"]) for r in _rows(tmp_path / "out")] == [
        ("imgs__img_002", "imgs/img_002.png"), ("imgs__img_000", "imgs/img_000.png")]
    manifest = json.loads((tmp_path / "out" / "run_manifest.json").read_text())
    assert manifest["cases"]["imgs__img_002"]["root"] == str((tmp_path / "data").resolve())


def test_anonymised_ids_are_stable_across_resume(cls_model, tmp_path):
    helpers.write_pngs(tmp_path / "DOE_JANE", 2)
    out = tmp_path / "out"
    score(cls_model, [tmp_path / "DOE_JANE"], out, anonymise_ids=True, workers=0, quiet=True)
    first = _rows(out)
    s = score(cls_model, [tmp_path / "DOE_JANE"], out, anonymise_ids=True, resume=True, workers=0, quiet=True)
    assert s.skipped == 2 and _rows(out) == first
    assert all(r["case_id"].startswith("c") and "img" not in r["case_id"] for r in first)
    assert sorted(p.name for p in (out / "cases").iterdir()) == sorted(r["case_id"] for r in first)
