"""Segmentation scoring writes the triage fields: uncertainty, confidence, flags, the most
uncertain slices and the entropy map; a model without training statistics still scores."""

from __future__ import annotations

import csv
import json
import logging
import shutil

import numpy as np
import pytest

from medtl.data.mask_stats import write_stats
from medtl.infer.score import score

from . import helpers


def _rows(out) -> dict[str, dict]:
    return {r["case_id"]: r for r in csv.DictReader(open(out / "predictions.csv"))}


def test_segmentation_cases_carry_uncertainty_flags_and_slices(seg_model, tmp_path, caplog):
    helpers.write_ct_nifti(tmp_path / "in" / "a.nii.gz", seed=1)
    helpers.write_ct_nifti(tmp_path / "in" / "b.nii.gz", shape=(30, 28, 10), seed=2)
    with caplog.at_level(logging.WARNING, logger="medtl.infer.score"):
        score(seg_model, [tmp_path / "in"], tmp_path / "out", workers=0, tta=True, quiet=True)
    said = [r.message for r in caplog.records if "mask_stats.json" in r.message]
    assert len(said) == 1 and "only the touches_border quality flag applies" in said[0]
    rows = _rows(tmp_path / "out")
    for cid, row in rows.items():
        case = json.loads((tmp_path / "out" / "cases" / cid / "case.json").read_text())
        u = float(row["uncertainty"])
        assert 0.0 <= u <= 1.0 and float(row["confidence"]) == pytest.approx(1 - u, abs=1e-6)
        assert case["uncertainty"] == u and set(case["uncertainty_parts"]) == {"entropy", "tta_disagreement"}
        assert case["uncertainty_parts"]["tta_disagreement"] == float(row["tta_disagreement"])
        assert row["flags"] == ";".join(dict.fromkeys(f["code"] for f in case["flags"]))
        assert set(row["flags"].split(";")) <= {"", "touches_border"}  # no statistics: the border rule only
        z = np.load(tmp_path / "out" / "cases" / cid / "preview.npz")
        ent = z["entropy"]
        assert ent.shape == z["image"].shape and ent.dtype == np.uint8
        sums = ent.astype(np.float64).sum(axis=(0, 1))
        assert case["uncertain_slices"]["axial"] == int(np.argmax(sums))
        assert set(case["uncertain_slices"]) == {"axial", "coronal", "sagittal"}


def test_training_statistics_turn_on_the_other_flags(seg_model, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(seg_model, model)
    stats = {"format": 1, "n_masks": 10, "label_names": ["background", "lesion"], "unit": "mL",
             "empty_fraction": 0.0, "size_p01": {"lesion": 0.0}, "size_p99": {"lesion": 1e9},
             "single_part_fraction": {"lesion": 0.0}, "border_fraction": 1.0,
             "extent_mm_sorted": {"min": [2.0, 3.0, 4.0], "max": [2.0, 3.0, 4.0]},
             "spacing_mm_sorted": {"min": [0.7, 0.9, 3.0], "max": [0.7, 0.9, 3.0]}}
    write_stats(model, stats)
    helpers.write_ct_nifti(tmp_path / "in" / "a.nii.gz")  # 40x36x12 at 0.7x0.9x3 mm: 28 x 32.4 x 36 mm
    score(model, [tmp_path / "in"], tmp_path / "out", workers=0, quiet=True)
    row = _rows(tmp_path / "out")["a"]
    flags = row["flags"].split(";")
    assert "fov_out_of_range" in flags and "spacing_out_of_range" not in flags
    assert "tta_disagreement" not in row
    case = json.loads((tmp_path / "out" / "cases" / "a" / "case.json").read_text())
    reason = next(f["reason"] for f in case["flags"] if f["code"] == "fov_out_of_range")
    assert "28 x 32.4 x 36 mm" in reason
    assert case["uncertainty_parts"] == {"entropy": case["uncertainty"]}


def test_unreadable_training_statistics_stop_before_scoring(seg_model, tmp_path):
    from medtl.errors import MedtlError

    model = tmp_path / "model"
    shutil.copytree(seg_model, model)
    (model / "mask_stats.json").write_text("{broken")
    helpers.write_ct_nifti(tmp_path / "in" / "a.nii.gz")
    with pytest.raises(MedtlError, match="mask_stats.json") as err:
        score(model, [tmp_path / "in"], tmp_path / "out", workers=0, quiet=True)
    assert err.value.code == "usage" and "unreadable mask statistics" in str(err.value)
    assert not (tmp_path / "out").exists()  # before anything is written
