"""Temperature scaling reduces the NLL and ECE of over-confident logits."""

from __future__ import annotations

import numpy as np

from medtl.train.calibration import T_MAX, expected_calibration_error, fit_temperature, probabilities


def _overconfident(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    margin = np.where(y == 1, 1.0, -1.0) + rng.normal(0, 1.2, n)  # ~80 % accurate
    logits = np.stack([-margin, margin], axis=1) * 4.0  # 4x too confident
    return logits, y


def test_temperature_fixes_overconfidence():
    logits, y = _overconfident()
    t = fit_temperature(logits, y)
    assert 3.0 < t < 12.0
    before = expected_calibration_error(probabilities(logits), y)
    after = expected_calibration_error(probabilities(logits, temperature=t), y)
    assert after < before / 2


def test_temperature_is_bounded_and_safe():
    logits = np.array([[5.0, -5.0], [5.0, -5.0], [-5.0, 5.0]])
    y = np.array([1, 1, 0])  # every prediction wrong
    assert fit_temperature(logits, y) <= T_MAX
    assert fit_temperature(logits[:1], y[:1]) == 1.0


def test_ece_of_perfect_calibration_is_small():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.5, 1.0, 20000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    probs = np.stack([1 - p, p], axis=1)
    assert expected_calibration_error(probs, y) < 0.02
