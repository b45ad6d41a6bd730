"""Metrics on hand-checked inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medtl.train.metrics import SegmentationMeter, classification_metrics, primary_metric, youden_threshold


def test_binary_metrics_at_threshold():
    y = np.array([0, 0, 0, 1, 1, 1])
    p1 = np.array([0.1, 0.4, 0.6, 0.35, 0.8, 0.9])
    probs = np.stack([1 - p1, p1], axis=1)
    m = classification_metrics(probs, y, threshold=0.5)
    # predictions 0,0,1,0,1,1: sens 2/3, spec 2/3
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["sensitivity"] == pytest.approx(2 / 3) and m["specificity"] == pytest.approx(2 / 3)
    assert m["auc"] == pytest.approx(7 / 9)  # 7 of 9 positive/negative pairs ordered correctly
    m2 = classification_metrics(probs, y, threshold=0.3)
    assert m2["sensitivity"] == 1.0 and m2["specificity"] == pytest.approx(1 / 3)


def test_binary_positive_class_swaps_sensitivity_and_specificity():
    y = np.array([0, 0, 0, 1, 1, 1])
    p1 = np.array([0.1, 0.4, 0.6, 0.35, 0.8, 0.9])
    probs = np.stack([1 - p1, p1], axis=1)
    one = classification_metrics(probs, y, threshold=0.3)  # predictions 0,1,1,1,1,1
    zero = classification_metrics(probs, y, threshold=0.3, positive=0)
    assert (one["sensitivity"], one["specificity"]) == (1.0, pytest.approx(1 / 3))
    assert (zero["sensitivity"], zero["specificity"]) == (pytest.approx(1 / 3), 1.0)
    assert (one["positive_class"], zero["positive_class"]) == (1, 0)
    same = ("n", "auc", "accuracy", "balanced_accuracy")  # the decision rule and AUC do not depend on it
    assert {k: zero[k] for k in same} == {k: one[k] for k in same}
    with pytest.raises(ValueError, match="positive"):
        classification_metrics(probs, y, positive=2)


def test_youden_threshold_separates_perfectly():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.7, 0.9])
    t = youden_threshold(y, s)
    assert 0.2 < t <= 0.7
    assert youden_threshold(np.array([1, 1]), np.array([0.3, 0.4])) == 0.5


def test_multiclass_macro_metrics():
    y = np.array([0, 1, 2, 2])
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
    m = classification_metrics(probs, y)
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["sensitivity"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert m["balanced_accuracy"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert 0.0 <= m["auc"] <= 1.0 and 0.0 <= m["specificity"] <= 1.0
    assert "positive_class" not in m and "positive_class" not in classification_metrics(probs, y, positive=0)


def test_single_class_auc_is_none_not_nan():
    probs = np.array([[0.3, 0.7], [0.4, 0.6]])
    m = classification_metrics(probs, np.array([1, 1]))
    assert m["auc"] is None and m["sensitivity"] == 1.0 and m["specificity"] is None
    assert primary_metric("classification", m) == m["balanced_accuracy"]


def test_multilabel_metrics():
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    probs = np.array([[0.9, 0.2], [0.1, 0.8], [0.7, 0.6], [0.2, 0.3]])
    m = classification_metrics(probs, y, multilabel=True)
    assert m["auc"] == 1.0 and m["accuracy"] == 1.0


def test_segmentation_dice_and_hd95():
    mask = torch.zeros(1, 1, 16, 16, dtype=torch.long)
    mask[0, 0, 4:8, 4:8] = 1
    mask[0, 0, 10:14, 10:14] = 2
    logits = torch.zeros(1, 3, 16, 16)
    logits[0, 0] = 1.0
    logits[0, 1, 4:8, 4:8] = 5.0  # label 1 exact
    logits[0, 2, 10:14, 10:12] = 5.0  # label 2: half of it
    meter = SegmentationMeter(["background", "a", "b"])
    meter.update(logits, mask, spacing=[[2.0, 2.0]])
    m = meter.compute()
    assert m["dice_a"] == pytest.approx(1.0)
    assert m["dice_b"] == pytest.approx(2 * 8 / (8 + 16))
    assert m["dice"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert m["hd95_a"] == pytest.approx(0.0)
    assert m["hd95_b"] == pytest.approx(4.0)  # 2 pixels at 2 mm
