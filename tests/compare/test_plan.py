"""Run order (most informative first) and cost estimates."""

from __future__ import annotations

import pytest

from medtl.compare.arms import Arm
from medtl.compare.plan import Estimator, plan_runs


def test_ends_first_then_the_middle(tmp_path):
    arms = [Arm("a", "scratch", ()), Arm("b", "finetune", ())]
    plan = plan_runs(arms, [0.5, 0.1, 1.0, 0.25], [0, 1], tmp_path)
    keys = [s.key for s in plan]
    assert len(keys) == 16 == len(set(keys))
    assert keys[:8] == [("a", 0.1, 0), ("b", 0.1, 0), ("a", 1.0, 0), ("b", 1.0, 0),
                        ("a", 0.1, 1), ("b", 0.1, 1), ("a", 1.0, 1), ("b", 1.0, 1)]
    assert {k[1] for k in keys[8:]} == {0.25, 0.5}
    assert plan[0].out == tmp_path / "runs" / "a" / "0.1" / "seed0"


def test_estimates_from_first_epoch_then_from_runs():
    est = Estimator(epochs=10)
    assert est.estimate("a", 100) is None
    est.observe_first_epoch(n_train=50, setup_s=5.0, epoch_s=2.0)
    assert est.estimate("a", 100) == pytest.approx(5.0 + 2.0 / 50 * 100 * 10)
    est.observe_run("a", 50, 30.0)
    assert est.estimate("a", 100) == pytest.approx(60.0)  # proportional to one measured size
    est.observe_run("a", 100, 50.0)
    assert est.estimate("a", 200) == pytest.approx(90.0)  # linear: 10 s + 0.4 s per item
    assert est.estimate("b", 100) == pytest.approx(5.0 + 2.0 / 50 * 100 * 10)  # b not measured yet
