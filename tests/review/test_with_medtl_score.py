"""The review side on real `medtl score` output (engineer E's writer) and on a real oblique MR
series: the loader, the viewer and the export accept what scoring actually writes."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from medtl.review import viewer
from medtl.review.actions import decide
from medtl.review.export import export_manifest
from medtl.review.scores import load_preview, load_scores
from medtl.review.store import DecisionStore


@pytest.fixture(scope="module")
def helpers():
    pytest.importorskip("medtl.infer.score")
    return pytest.importorskip("tests.infer.helpers")


@pytest.mark.slow
def test_classification_scores_from_medtl_score(helpers, tmp_path):
    from medtl.data import load_source
    from medtl.infer.score import score

    model = helpers.make_model_dir(tmp_path / "model")
    helpers.write_pngs(tmp_path / "in" / "sub", 3)
    out = tmp_path / "out"
    score(model, [tmp_path / "in"], out, workers=0, batch_size=2, quiet=True)
    run = load_scores(out)
    assert len(run.cases) == 3 and run.model_id
    for case_id, case in run.cases.items():
        pv = load_preview(run, case_id)
        assert pv.image.ndim == 2 and case.predicted_label in run.label_names
        plane = viewer.extract_plane(pv.image, pv.spacing, cam=pv.cam)
        rgb = viewer.render(plane, viewer.percentile_bounds(pv.image, 0, 100), show_cam=pv.cam is not None)
        assert rgb.dtype == np.uint8 and rgb.shape[2] == 3
    store = DecisionStore(tmp_path / "r.sqlite")
    for i, case_id in enumerate(sorted(run.cases)):
        decide(store, run, case_id, reviewer="Dr A", action="correct", corrected=run.label_names[i % 2])
    assert export_manifest(tmp_path / "r.sqlite", out, tmp_path / "m.csv") == 3
    source = load_source(tmp_path / "m.csv", task="classification")
    images = sorted(r["image"] for split in source.records.values() for r in split)
    assert images == sorted(str((tmp_path / "in" / "sub" / f"img_{i:03d}.png").resolve()) for i in range(3))


@pytest.mark.slow
def test_segmentation_scores_from_medtl_score(helpers, tmp_path):
    from medtl.infer.score import score

    model = helpers.seg_model_dir(tmp_path / "model")
    helpers.write_ct_nifti(tmp_path / "in" / "ct.nii.gz")
    out = tmp_path / "out"
    score(model, [tmp_path / "in"], out, workers=0, batch_size=1, quiet=True)
    run = load_scores(out)
    (case_id,) = run.cases
    pv = load_preview(run, case_id)
    assert pv.mask is not None and pv.mask.shape == pv.image.shape[:3]
    store = DecisionStore(tmp_path / "r.sqlite")
    decide(store, run, case_id, reviewer="Dr A", action="accept")
    export_manifest(tmp_path / "r.sqlite", out, tmp_path / "m.csv")
    (row,) = csv.DictReader(open(tmp_path / "m.csv"))
    assert row["mask"] == str((out / "masks" / f"{case_id}.nii.gz").resolve())
    assert row["image"] == str((tmp_path / "in" / "ct.nii.gz").resolve())


@pytest.mark.slow
def test_real_oblique_mr_series_keeps_its_proportions(shared_data):
    from medtl.data import read_scan

    series = sorted((shared_data / "dicom_brain_mr" / "Study1").glob("*T1post*"))[0]
    scan = read_scan(series)
    vol, spacing = scan.array[0], scan.spacing  # ~0.43 mm pixels, slices ~6.5 mm apart
    assert spacing[2] / spacing[0] > 5
    plane = viewer.extract_plane(vol, spacing, plane="sagittal", affine=scan.affine)
    rgb = viewer.render(plane, viewer.percentile_bounds(vol, 1, 99), max_side=512)
    physical = (vol.shape[2] * spacing[2]) / (vol.shape[1] * spacing[1])  # height / width in mm
    assert rgb.shape[0] / rgb.shape[1] == pytest.approx(physical, rel=0.03)
    assert max(rgb.shape[:2]) == 512 and rgb.std() > 10
