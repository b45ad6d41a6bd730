"""Paired bootstrap differences on constructed per-case outputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from medtl.compare.stats import binary_auc, case_metric, paired_difference
from medtl.errors import DataError


def test_binary_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 2, 40)
        s = np.round(rng.random(40), 1)  # many ties
        if len(set(y)) == 2:
            assert binary_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert np.isnan(binary_auc(np.ones(5, int), np.arange(5.0)))


def _clf(y, quality: float, rng) -> dict:
    """Probabilities whose separation grows with ``quality``."""
    score = np.clip(0.5 + quality * (y - 0.5) + rng.normal(0, 0.25, len(y)), 0, 1)
    return {"probs": np.stack([1 - score, score], 1), "labels": y}


def test_a_clearly_better_arm_is_separable_and_a_copy_is_not():
    rng = np.random.default_rng(1)
    y = np.array([0, 1] * 60)
    good = {s: _clf(y, 0.8, rng) for s in range(3)}
    bad = {s: _clf(y, 0.05, rng) for s in range(3)}
    d = paired_difference("good", "bad", good, bad, resamples=400)
    assert d.diff > 0.3 and d.low > 0 and d.separable and d.verdict == "good better"
    same = paired_difference("good", "copy", good, {s: dict(v) for s, v in good.items()}, resamples=400)
    assert same.diff == 0 and same.low == 0 == same.high and not same.separable and same.verdict == "not separable"
    close = paired_difference("good", "good2", good, {s: _clf(y, 0.8, rng) for s in range(3)}, resamples=400)
    assert close.low < 0 < close.high and close.verdict == "not separable"


def test_only_common_seeds_pair_and_segmentation_dice():
    a = {0: {"dice": np.array([[0.9], [0.8], [np.nan], [0.7]])}, 1: {"dice": np.array([[0.9], [0.9], [0.9], [0.9]])}}
    b = {0: {"dice": np.array([[0.5], [0.4], [0.6], [0.5]])}}
    assert case_metric(a[0]) == pytest.approx(0.8)
    d = paired_difference("a", "b", a, b, resamples=200)
    assert d.n_seeds == 1 and d.n_cases == 4 and d.diff == pytest.approx(0.8 - 0.5)


def test_different_test_splits_are_refused():
    a = {0: {"dice": np.zeros((4, 1))}}
    b = {0: {"dice": np.zeros((5, 1))}}
    with pytest.raises(DataError, match="same test split"):
        paired_difference("a", "b", a, b)


def test_nothing_to_pair_gives_nan_not_a_verdict():
    d = paired_difference("a", "b", {0: {"dice": np.zeros((3, 1))}}, {1: {"dice": np.zeros((3, 1))}})
    assert np.isnan(d.diff) and d.verdict == "not computed" and not d.separable
