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


def test_an_arm_with_fewer_seeds_runs_the_first_ones(tmp_path):
    arms = [Arm("a", "scratch", ()), Arm("once", "linear-probe", (), seeds=1), Arm("two", "finetune", (), seeds=2)]
    keys = [s.key for s in plan_runs(arms, [1.0, 0.5], [4, 7, 9], tmp_path)]
    assert [k for k in keys if k[0] == "once"] == [("once", 0.5, 4), ("once", 1.0, 4)]
    assert {k[2] for k in keys if k[0] == "two"} == {4, 7} and {k[2] for k in keys if k[0] == "a"} == {4, 7, 9}
    assert len(keys) == 2 * (3 + 1 + 2)


def test_estimates_separate_the_fixed_cost_from_the_training_items():
    est = Estimator(epochs=10)
    assert est.estimate("a", 100) is None
    # first epoch of arm a on 50 items: 2 s training + 3 s validation, 5 s setup
    est.observe_first_epoch("a", n_train=50, setup_s=5.0, epoch_s=5.0, train_s=2.0)
    per_run = lambda n: 5.0 + 10 * (2.0 / 50 * n + 3.0) + 2 * 3.0  # noqa: E731
    assert est.estimate("a", 100) == pytest.approx(per_run(100))
    assert est.estimate("b", 100) == pytest.approx(per_run(100))  # b not measured yet: a's epoch stands in
    # a finished run calibrates the total; only its variable part scales with the items
    est.observe_run("a", 50, 80.0)
    fixed = 5.0 + 12 * 3.0
    assert est.estimate("a", 500) == pytest.approx(fixed + (80.0 - fixed) * 10)
    est.observe_run("a", 100, 120.0)
    assert est.estimate("a", 200) == pytest.approx(200.0)  # linear through both: 40 s + 0.8 s per item
    est.observe_run("c", 50, 30.0)  # no epoch measured for c (a linear probe): proportional beyond 10 %
    assert est.estimate("c", 500) == pytest.approx(3.0 + 27.0 * 10)


def test_an_arm_with_a_minimum_of_items_per_epoch_costs_at_least_that():
    est = Estimator(epochs=10, min_items={"a": 64})
    est.observe_first_epoch("a", n_train=19, setup_s=0.0, epoch_s=64.0, train_s=64.0)  # 64 items drawn: 1 s each
    assert est.estimate("a", 19) == pytest.approx(640.0)  # not 19 s an epoch
    assert est.estimate("a", 128) == pytest.approx(1280.0)  # above the minimum the label count rules
    est.observe_run("a", 19, 700.0)
    est.observe_run("a", 40, 700.0)  # both drew 64 items: one size, not a slope
    assert est.estimate("a", 30) == pytest.approx(700.0)
