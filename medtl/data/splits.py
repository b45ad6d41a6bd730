"""Seeded train/val/test split by patient: grouped (no patient in two splits) and stratified.

Uses scikit-learn's ``StratifiedGroupKFold``: the test split is one fold of
``round(1 / test_fraction)`` folds, then val is one fold of the rest, so the fractions are
approximate (0.15 -> 1/7 = 14.3%). When there are fewer patients than folds (tiny datasets),
``GroupShuffleSplit`` is used instead, and train always keeps at least one patient.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np


def _one_fold(y: np.ndarray, groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the items held out (about ``fraction`` of the groups)."""
    from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

    n_groups = len(np.unique(groups))
    if fraction <= 0 or n_groups < 2:
        return np.zeros(len(y), dtype=bool)
    n_splits = max(2, int(round(1.0 / fraction)))
    held = np.zeros(len(y), dtype=bool)
    # stratified folds need more items than folds in at least one class (else scikit-learn raises)
    if n_groups >= n_splits and np.bincount(y).max() >= n_splits:
        with warnings.catch_warnings():  # "least populated class has only N members"
            warnings.simplefilter("ignore", UserWarning)
            cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            _, idx = next(iter(cv.split(np.zeros(len(y)), y, groups)))
    else:
        n_test = min(n_groups - 1, max(1, int(round(fraction * n_groups))))
        cv = GroupShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)
        _, idx = next(iter(cv.split(np.zeros(len(y)), y, groups)))
    held[idx] = True
    return held


def split_by_patient(
    labels: Sequence,
    groups: Sequence[str],
    *,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> list[str]:
    """Assign "train"/"val"/"test" to each item; items of one group always share a split.

    ``labels`` are stratification keys (class index, or any hashable such as a tuple for
    multi-label); ``groups`` are patient ids (use a unique id per item when unknown).
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(f"bad split fractions val={val_fraction} test={test_fraction}")
    keys = [str(v) for v in labels]
    _, y = np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)
    g = np.asarray([str(v) for v in groups])
    out = np.full(len(y), "train", dtype=object)
    test = _one_fold(y, g, test_fraction, seed)
    out[test] = "test"
    rest = np.flatnonzero(~test)
    # val as a fraction of what is left after the test split
    val_rel = val_fraction / (1.0 - test_fraction) if val_fraction > 0 else 0.0
    if len(np.unique(g[rest])) >= 2:
        val = _one_fold(y[rest], g[rest], val_rel, seed + 1)
        out[rest[val]] = "val"
    return [str(s) for s in out]
