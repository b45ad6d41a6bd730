from __future__ import annotations

import json

import numpy as np
import pytest

from medtl.review.scores import ScoresError, load_preview, load_scores


def test_loads_a_classification_run(cls3):
    run = load_scores(cls3)
    assert run.task == "classification" and run.label_names == ["absent", "present"]
    assert len(run.cases) == 4 and run.failed == 1  # the failed case is not in the worklist
    case = run.cases["ct__case_001.nii.gz"]
    assert case.source == "ct/case_001.nii.gz" and case.modality == "CT"
    assert case.spacing == (0.8, 0.8, 2.5) and case.shape == (48, 40, 12)
    assert sum(case.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert case.predicted_label == max(case.probabilities, key=case.probabilities.get)
    assert 0.0 <= case.uncertainty <= 1.0 and case.confidence == pytest.approx(max(case.probabilities.values()))
    pv = load_preview(run, case.case_id)
    assert pv.image.shape == (48, 40, 12) and pv.cam.shape == pv.image.shape and pv.mask is None
    assert 0.0 <= pv.cam.min() and pv.cam.max() <= 1.0 and not pv.rgb


def test_loads_a_segmentation_run(seg3):
    run = load_scores(seg3)
    case = run.cases["ct__case_001.nii.gz"]
    assert case.predicted_label is None and case.volumes_ml["lesion"] > 0
    pv = load_preview(run, case.case_id)
    assert pv.mask.dtype == np.uint8 and pv.mask.shape == pv.image.shape and pv.mask.max() == 1


def test_2d_run(cls2):
    run = load_scores(cls2)
    pv = load_preview(run, "us__case_000.png")
    assert pv.image.shape == (64, 48) and pv.spacing == (0.3, 0.3)


def test_rgb_preview_is_channel_last(cls2):
    run = load_scores(cls2)
    path = cls2 / "cases" / "us__case_000.png" / "preview.npz"
    np.savez(path, image=np.zeros((64, 48, 3), np.float32), spacing=np.array([0.3, 0.3]), affine=np.eye(4))
    pv = load_preview(run, "us__case_000.png")
    assert pv.rgb and pv.spacing == (0.3, 0.3)


@pytest.mark.parametrize("breakage, needle", [
    (lambda out: (out / "run_manifest.json").unlink(), "missing file"),
    (lambda out: (out / "run_manifest.json").write_text("{nope"), "unreadable JSON"),
    (lambda out: (out / "run_manifest.json").write_text(json.dumps({"task": "detection"})), "task must be"),
    (lambda out: (out / "predictions.csv").unlink(), "missing predictions.csv"),
    (lambda out: (out / "predictions.csv").write_text("a,b\n1,2\n"), "no case_id column"),
])
def test_bad_folders_raise_scores_error(cls3, breakage, needle):
    breakage(cls3)
    with pytest.raises(ScoresError, match=needle) as info:
        load_scores(cls3)
    assert str(cls3) in info.value.path


def test_missing_folder(tmp_path):
    with pytest.raises(ScoresError, match="not found"):
        load_scores(tmp_path / "nothing")


def test_bad_previews(cls3):
    run = load_scores(cls3)
    path = cls3 / "cases" / "ct__case_000.nii.gz" / "preview.npz"
    np.savez(path, image=np.zeros((4, 4, 4), np.float32), spacing=np.ones(3), cam=np.zeros((4, 4), np.float32))
    with pytest.raises(ScoresError, match="cam shape"):
        load_preview(run, "ct__case_000.nii.gz")
    np.savez(path, image=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ScoresError, match="unreadable preview"):  # never unpickled
        load_preview(run, "ct__case_000.nii.gz")
    path.unlink()
    with pytest.raises(ScoresError, match="no preview"):
        load_preview(run, "ct__case_000.nii.gz")
    with pytest.raises(ScoresError, match="unknown case"):
        load_preview(run, "ct__case_006.nii.gz")  # the failed one


def test_segmentation_triage_fields(seg3):
    run = load_scores(seg3)
    for case_id, case in run.cases.items():
        saved = json.loads((seg3 / "cases" / case_id / "case.json").read_text())
        assert case.uncertainty == saved["uncertainty"] and case.confidence == pytest.approx(1 - case.uncertainty)
        assert case.flags == tuple((f["code"], f["reason"]) for f in saved["flags"])
        assert case.uncertain_slices == saved["uncertain_slices"]
        pv = load_preview(run, case_id)
        assert pv.entropy.shape == pv.image.shape and 0.0 <= pv.entropy.min() <= pv.entropy.max() <= 1.0
        hot = pv.entropy.sum(axis=(0, 1)).argmax()
        assert case.uncertain_slices["axial"] == hot
    assert any(case.flags for case in run.cases.values())


def test_flag_codes_from_the_csv_when_case_json_has_none(seg3):
    case_id = "ct__case_000.nii.gz"
    path = seg3 / "cases" / case_id / "case.json"
    saved = json.loads(path.read_text())
    assert [f["code"] for f in saved.pop("flags")] == ["empty"]
    path.write_text(json.dumps(saved))
    assert load_scores(seg3).cases[case_id].flags == (("empty", ""),)


def test_segmentation_folder_from_before_triage(tmp_path):
    from medtl.review.sample import write_sample_scores

    out = write_sample_scores(tmp_path / "out", tmp_path / "in", task="segmentation", n_cases=3, triage=False)
    run = load_scores(out)
    assert all(c.uncertainty is None and c.flags == () and c.uncertain_slices == {} for c in run.cases.values())
    assert all(load_preview(run, cid).entropy is None for cid in run.cases)
