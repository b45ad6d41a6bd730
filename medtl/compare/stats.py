"""Paired differences between arms on the test split, with a bootstrap interval.

Every run of a comparison is scored on the same test cases (the split does not depend on the arm,
the label fraction or the seed), so two arms are compared case by case. Each bootstrap resample
draws the test cases with replacement and, for the seed-to-seed spread, the seeds with replacement
(paired: seed k of one arm with seed k of the other, which trained on the same labelled subset);
the difference of the seed-averaged metrics over resamples gives the percentile interval. An
interval that covers 0 is reported as "not separable".

Metrics are recomputed per resample from the per-case outputs each run wrote
(``test_cases.npz``): AUC from the calibrated probabilities (classification), the mean over
foreground labels of the mean per-case Dice (segmentation).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata


def binary_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC via the Mann-Whitney rank sum (ties get mid-ranks, as sklearn's roc_auc_score).

    Hand-written because the bootstrap evaluates it tens of thousands of times on small samples,
    where sklearn's input validation costs far more than the statistic itself."""
    pos = y == 1
    n1 = int(pos.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def case_metric(cases: dict, idx: np.ndarray | None = None) -> float:
    """The run's primary test metric on the cases ``idx`` (all when None)."""
    if "dice" in cases:
        d = cases["dice"] if idx is None else cases["dice"][idx]
        if d.size == 0:
            return float("nan")
        with np.errstate(all="ignore"):
            per_label = np.nanmean(d, axis=0) if np.isfinite(d).any() else np.full(d.shape[1], np.nan)
        return float(np.nanmean(per_label)) if np.isfinite(per_label).any() else float("nan")
    probs, labels = cases["probs"], cases["labels"]
    if idx is not None:
        probs, labels = probs[idx], labels[idx]
    if labels.ndim == 2:  # multi-label: mean AUC over labels with both values present
        aucs = [binary_auc(labels[:, j].astype(int), probs[:, j]) for j in range(labels.shape[1])]
    elif probs.shape[1] == 2:
        aucs = [binary_auc(labels.astype(int).reshape(-1), probs[:, 1])]
    else:  # one-vs-rest macro over the classes present
        y = labels.astype(int).reshape(-1)
        aucs = [binary_auc((y == c).astype(int), probs[:, c]) for c in np.unique(y)]
    aucs = [a for a in aucs if np.isfinite(a)]
    return float(np.mean(aucs)) if aucs else float("nan")


@dataclass
class PairedDifference:
    a: str
    b: str
    diff: float  # mean over seeds of metric(a) - metric(b), all test cases
    low: float
    high: float
    n_seeds: int
    n_cases: int

    @property
    def separable(self) -> bool:
        return bool(np.isfinite(self.low) and np.isfinite(self.high) and (self.low > 0 or self.high < 0))

    @property
    def verdict(self) -> str:
        if not np.isfinite(self.diff):
            return "not computed"
        if not self.separable:
            return "not separable"
        return f"{self.a} better" if self.diff > 0 else f"{self.b} better"

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "diff": self.diff, "low": self.low, "high": self.high,
                "n_seeds": self.n_seeds, "n_cases": self.n_cases, "separable": self.separable,
                "verdict": self.verdict}


def paired_difference(a: str, b: str, runs_a: dict[int, dict], runs_b: dict[int, dict], *, resamples: int = 2000,
                      confidence: float = 0.95, seed: int = 0) -> PairedDifference:
    """``runs_x``: seed -> per-case test outputs; only the seeds both arms ran are paired."""
    seeds = sorted(set(runs_a) & set(runs_b))
    n = _n_cases(runs_a, runs_b, seeds) if seeds else 0
    if n == 0:
        return PairedDifference(a, b, float("nan"), float("nan"), float("nan"), len(seeds), n)
    full = np.array([case_metric(runs_a[s]) - case_metric(runs_b[s]) for s in seeds])
    rng = np.random.default_rng(seed)
    diffs = np.empty(resamples)
    with warnings.catch_warnings():  # a resample without a defined metric is NaN, counted below
        warnings.simplefilter("ignore", RuntimeWarning)
        for i in range(resamples):
            pick = rng.choice(seeds, size=len(seeds), replace=True)
            idx = rng.integers(0, n, size=n)
            diffs[i] = np.nanmean([case_metric(runs_a[s], idx) - case_metric(runs_b[s], idx) for s in pick])
    alpha = (1.0 - confidence) / 2
    finite = diffs[np.isfinite(diffs)]
    if len(finite) < 0.9 * resamples:  # too many resamples without both classes: no honest interval
        low = high = float("nan")
    else:
        low, high = (float(v) for v in np.quantile(finite, [alpha, 1 - alpha]))
    return PairedDifference(a, b, float(np.nanmean(full)), low, high, len(seeds), n)


def _n_cases(runs_a: dict, runs_b: dict, seeds: list[int]) -> int:
    sizes = {_size(r[s]) for r in (runs_a, runs_b) for s in seeds}
    if len(sizes) != 1:
        from medtl.errors import DataError

        raise DataError(f"runs disagree on the number of test cases ({sorted(sizes)}): they were not scored on "
                        "the same test split")
    return sizes.pop()


def _size(cases: dict) -> int:
    return len(cases["dice"] if "dice" in cases else cases["labels"])


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value); None/NaN dropped."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def fmt_mean_sd(ms: tuple[float, float], digits: int = 3, n: int = 2) -> str:
    """``mean ± sd``; just the value for a single run (``n`` < 2: no spread to show); ``n/a`` for none."""
    m, s = ms
    if m is None or not np.isfinite(m):
        return "n/a"
    return f"{m:.{digits}f}" if n < 2 else f"{m:.{digits}f} ± {s:.{digits}f}"
