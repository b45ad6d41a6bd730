from collections import Counter

import numpy as np
import pytest

from medtl.data.splits import split_by_patient


@pytest.fixture
def cohort():
    rng = np.random.default_rng(0)
    groups, labels = [], []
    for p in range(120):  # 1-4 images per patient, 30 % positive patients
        positive = int(rng.random() < 0.3)
        for _ in range(rng.integers(1, 5)):
            groups.append(f"P{p}")
            labels.append(positive)
    return labels, groups


def test_no_patient_in_two_splits_and_fractions(cohort):
    labels, groups = cohort
    splits = split_by_patient(labels, groups, seed=3)
    per_patient = {}
    for g, s in zip(groups, splits):
        per_patient.setdefault(g, set()).add(s)
    assert all(len(s) == 1 for s in per_patient.values())
    frac = Counter(splits)
    n = len(splits)
    assert 0.08 < frac["test"] / n < 0.22 and 0.08 < frac["val"] / n < 0.22


def test_stratification_roughly_kept(cohort):
    labels, groups = cohort
    splits = np.array(split_by_patient(labels, groups, seed=1))
    y = np.array(labels)
    overall = y.mean()
    for s in ("train", "val", "test"):
        assert abs(y[splits == s].mean() - overall) < 0.12, s


def test_seeded_determinism(cohort):
    labels, groups = cohort
    a = split_by_patient(labels, groups, seed=7)
    assert a == split_by_patient(labels, groups, seed=7)
    assert a != split_by_patient(labels, groups, seed=8)


@pytest.mark.parametrize("n_patients", [1, 2, 3, 5])
def test_tiny_datasets_keep_train(n_patients):
    groups = [f"P{i // 2}" for i in range(2 * n_patients)]
    labels = [i % 2 for i in range(2 * n_patients)]
    splits = split_by_patient(labels, groups, seed=0)
    assert "train" in splits
    if n_patients >= 3:
        assert set(splits) == {"train", "val", "test"}
    for g in set(groups):
        assert len({s for s, gg in zip(splits, groups) if gg == g}) == 1


def test_zero_fractions_and_bad_fractions():
    groups = [str(i) for i in range(20)]
    assert set(split_by_patient([0] * 20, groups, val_fraction=0, test_fraction=0)) == {"train"}
    assert set(split_by_patient([0] * 20, groups, val_fraction=0.2, test_fraction=0)) == {"train", "val"}
    with pytest.raises(ValueError):
        split_by_patient([0] * 20, groups, val_fraction=0.6, test_fraction=0.5)
