"""Segmentation triage: uncertainty from the probabilities, quality flags from the training statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medtl.data.mask_stats import MaskMeasures, measure_mask
from medtl.infer.quality import quality_flags
from medtl.infer.seg_uncertainty import (
    combine,
    entropy_map,
    foreground_entropy,
    tta_dice_disagreement,
    uncertain_slices,
)

STATS = {"format": 1, "n_masks": 50, "label_names": ["background", "a"], "unit": "mL", "empty_fraction": 0.0,
         "size_p01": {"a": 1.0}, "size_p99": {"a": 3.0}, "single_part_fraction": {"a": 1.0},
         "border_fraction": 0.0, "extent_mm_sorted": {"min": [30.0, 35.0, 50.0], "max": [40.0, 45.0, 60.0]},
         "spacing_mm_sorted": {"min": [1.0, 1.0, 1.0], "max": [1.0, 1.0, 1.0]}}


def _measures(**kw) -> MaskMeasures:
    base = {"sizes": {"a": 2.0}, "components": {"a": 1}, "border_voxels": 0, "extent_mm": (35.0, 50.0, 40.0),
            "spacing_mm": (1.0, 1.0, 1.0)}
    return MaskMeasures(**{**base, **kw})


def _codes(measures, stats=STATS) -> list[str]:
    return [f.code for f in quality_flags(measures, stats)]


def test_a_typical_mask_has_no_flag():
    assert _codes(_measures()) == []


@pytest.mark.parametrize("kw, code, words", [
    ({"sizes": {"a": 0.0}, "components": {"a": 0}}, "empty", "0% of the 50 training masks"),
    ({"sizes": {"a": 9.5}}, "size_out_of_range", "a 9.5 mL is outside the training 1st-99th percentile 1-3 mL"),
    ({"components": {"a": 3}}, "fragmented", "a is in 3 separate parts; 100%"),
    ({"border_voxels": 7}, "touches_border", "edge of the image (7 voxels)"),
    ({"extent_mm": (220.0, 220.0, 156.0), "spacing_mm": (0.43, 0.43, 6.5)}, "fov_out_of_range", "220"),
    ({"spacing_mm": (0.43, 0.43, 6.5)}, "spacing_out_of_range", "0.43 x 0.43 x 6.5 mm"),
])
def test_each_rule_flags_with_a_reason(kw, code, words):
    flags = quality_flags(_measures(**kw), STATS)
    assert code in [f.code for f in flags]
    assert words in next(f.reason for f in flags if f.code == code)


def test_rules_follow_the_training_masks():
    usual = {**STATS, "empty_fraction": 0.3, "single_part_fraction": {"a": 0.5}, "border_fraction": 0.4}
    assert _codes(_measures(sizes={"a": 0.0}, components={"a": 0}), usual) == []
    assert _codes(_measures(components={"a": 3}, border_voxels=5), usual) == []
    assert _codes(_measures(extent_mm=(55.0, 60.0, 80.0))) == []  # within 1.5x of the training range, any order


def test_without_statistics_only_the_border_rule_applies():
    assert _codes(_measures(sizes={"a": 0.0}, components={"a": 0}, extent_mm=(500.0, 500.0, 500.0)), None) == []
    assert _codes(_measures(border_voxels=1), None) == ["touches_border"]


def _probs(fg: np.ndarray) -> torch.Tensor:
    fg = torch.as_tensor(fg, dtype=torch.float32)
    return torch.stack([1 - fg, fg])


def _fg_entropy(probs: torch.Tensor) -> float:
    return foreground_entropy(probs.argmax(0) > 0, probs[0], entropy_map(probs))


def test_entropy_is_averaged_over_the_foreground_and_its_border():
    fg = np.zeros((12, 12, 12), np.float32)
    fg[4:8, 4:8, 4:8] = 0.99  # sure object
    sure = _probs(fg)
    ent = entropy_map(sure)
    assert ent.shape == (12, 12, 12) and float(ent.max()) <= 1.0 and float(ent[0, 0, 0]) == pytest.approx(0, abs=1e-6)
    unsure = fg.copy()
    unsure[4:8, 4:8, 4:8] = 0.6
    u_sure, u_unsure = (_fg_entropy(p) for p in (sure, _probs(unsure)))
    assert u_sure < 0.1 < u_unsure <= 1.0
    # only the object and its one-voxel band count: a larger confident background does not dilute it
    big = np.zeros((30, 30, 30), np.float32)
    big[4:8, 4:8, 4:8] = 0.6
    assert _fg_entropy(_probs(big)) == pytest.approx(u_unsure, rel=1e-5)
    nothing = _probs(np.zeros((6, 6, 6), np.float32))
    assert _fg_entropy(nothing) == 0.0
    near = np.zeros((6, 6, 6), np.float32)
    near[2, 2, 2] = 0.4  # below 0.5 (empty mask) but a near miss: its entropy counts
    h = -(0.4 * np.log2(0.4) + 0.6 * np.log2(0.6))  # over the voxel and its 26 neighbours
    assert _fg_entropy(_probs(near)) == pytest.approx(h / 27, rel=1e-4)


def test_tta_dice_disagreement_and_combination():
    a = np.zeros((10, 10), np.float32)
    a[2:6, 2:6] = 1
    b = np.zeros((10, 10), np.float32)
    b[2:6, 4:8] = 1  # half overlap: Dice 0.5
    views = torch.stack([_probs(a), _probs(a), _probs(b)])
    assert tta_dice_disagreement(views) == pytest.approx(1 - (1.0 + 0.5) / 2)
    assert tta_dice_disagreement(torch.stack([_probs(a * 0)] * 2)) == 0.0
    assert combine(0.2, None) == 0.2 and combine(0.2, 0.6) == pytest.approx(0.4)


def test_uncertain_slices_point_at_the_highest_entropy():
    ent = np.zeros((8, 9, 10), np.float32)
    ent[5, 2, 7] = 0.9
    assert uncertain_slices(ent) == {"axial": 7, "coronal": 2, "sagittal": 5}
    assert uncertain_slices(np.zeros((4, 4), np.float32)) == {}


def test_measure_then_flag_a_real_mask():
    mask = np.zeros((36, 50, 35), np.uint8)
    mask[10:20, 10:25, 10:20] = 1  # 1.5 mL at 1 mm
    mask[30:33, 40:45, 0:3] = 1  # a second part, on the border
    codes = _codes(measure_mask(mask, (1.0, 1.0, 1.0), ["background", "a"]))
    assert codes == ["fragmented", "touches_border"]



def test_triage_row_lists_a_code_once_and_case_json_every_reason():
    from medtl.infer.triage import triage

    mask = np.zeros((10, 12, 8), np.uint8)
    mask[2:5, 2:5, 2:5], mask[6:9, 6:9, 2:5] = 1, 2  # 27 voxels each, far below the training sizes
    probs = torch.stack([torch.as_tensor(mask == k, dtype=torch.float32) for k in range(3)])
    probs[:, torch.as_tensor(mask > 0)] += 0.3  # unsure inside the structures, sure in the background
    probs = probs / probs.sum(0)
    stats = {**STATS, "label_names": ["background", "a", "b"], "size_p01": {"a": 1.0, "b": 1.0},
             "size_p99": {"a": 3.0, "b": 3.0}, "single_part_fraction": {"a": 1.0, "b": 1.0},
             "extent_mm_sorted": {"min": [8.0, 10.0, 12.0], "max": [8.0, 10.0, 12.0]}}
    found = triage(probs, mask, 0.25, (1.0, 1.0, 1.0), ["background", "a", "b"], stats,
                   scan_affine=np.eye(4), preview_affine=np.eye(4), preview_shape=(10, 12, 8))
    assert found.row["flags"] == "size_out_of_range"
    assert [f["reason"][:2] for f in found.info["flags"]] == ["a ", "b "]
    assert found.row["tta_disagreement"] == 0.25 and found.info["uncertainty_parts"]["tta_disagreement"] == 0.25
    assert found.row["uncertainty"] == pytest.approx((found.info["uncertainty_parts"]["entropy"] + 0.25) / 2, abs=1e-6)
    assert np.array_equal(found.mask_preview, mask) and found.entropy_preview.shape == mask.shape
    assert found.info["uncertain_slices"]["axial"] in (2, 3, 4)
