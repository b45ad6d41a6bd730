"""Which runs a comparison makes, in which order, and how long each is expected to take.

Order (most informative first, so a budget or an interruption leaves the most useful report):
every arm at the smallest and at the largest fraction for each seed, then the fractions between.
Cost: a per-run estimate ``fixed + rate * n_train`` learnt from what has run so far; before any run
has finished, from the first epoch of the first run (seconds per training item per epoch, times
the configured epochs: early stopping only makes runs cheaper than that).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medtl.compare.arms import Arm


@dataclass(frozen=True)
class RunSpec:
    arm: Arm
    fraction: float
    seed: int
    out: Path

    @property
    def key(self) -> tuple[str, float, int]:
        return (self.arm.name, self.fraction, self.seed)

    @property
    def label(self) -> str:
        return f"{self.arm.name} @ {fraction_label(self.fraction)} seed {self.seed}"


def fraction_label(fraction: float) -> str:
    return f"{100 * fraction:g} %"


def run_dir(out: Path, arm: Arm, fraction: float, seed: int) -> Path:
    return Path(out) / "runs" / arm.name / f"{fraction:g}" / f"seed{seed}"


def arm_seeds(arm: Arm, seeds: list[int]) -> list[int]:
    """The seeds ``arm`` runs: every seed of the comparison, or its first ``arm.seeds``."""
    return list(seeds) if arm.seeds is None else list(seeds)[:arm.seeds]


def plan_runs(arms: list[Arm], fractions: list[float], seeds: list[int], out: Path) -> list[RunSpec]:
    fractions = sorted(fractions)
    ends = [fractions[0]] + ([fractions[-1]] if len(fractions) > 1 else [])
    middle = fractions[1:-1]
    order: list[RunSpec] = []
    for group in (ends, middle):
        for seed in seeds:
            for f in group:
                for arm in arms:
                    if seed in arm_seeds(arm, seeds):
                        order.append(RunSpec(arm, f, seed, run_dir(out, arm, f, seed)))
    return order


class Estimator:
    """Seconds a run is expected to take, from what has been measured so far.

    A run costs ``setup + epochs * (rate * n_train + validation) + final evaluation``: the first
    epoch of an arm's first run gives ``rate`` (training seconds per item), the validation time and
    the setup; finished runs then calibrate the total. Only the training part grows with the label
    fraction, so a 10 % run says little about the cost of 100 % unless the fixed part is taken out.
    An arm with ``data.min_samples_per_epoch`` (``min_items``) trains at least that many items an
    epoch, whatever its label count: every count it is given is raised to it first.
    """

    def __init__(self, epochs: int, min_items: dict[str, int] | None = None):
        self.epochs = max(1, int(epochs))
        self.min_items = dict(min_items or {})
        self.runs: dict[str, list[tuple[int, float]]] = {}  # arm -> [(n_train, seconds)]
        self.first: dict[str, tuple[float, float, float]] = {}  # arm -> (s per item per epoch, val s, setup s)

    def observe_first_epoch(self, arm: str, n_train: int, setup_s: float, epoch_s: float,
                            train_s: float | None = None) -> None:
        n_train = self._items(arm, n_train)
        if arm in self.first or n_train <= 0:
            return
        train_s = epoch_s if train_s is None else min(train_s, epoch_s)
        self.first[arm] = (train_s / n_train, max(0.0, epoch_s - train_s), max(0.0, setup_s))

    def observe_run(self, arm: str, n_train: int, seconds: float) -> None:
        self.runs.setdefault(arm, []).append((self._items(arm, n_train), float(seconds)))

    def _items(self, arm: str, n_train: int) -> int:
        """Items trained per epoch: the label count, or the arm's minimum when that is larger."""
        return max(int(n_train), int(self.min_items.get(arm, 0)))

    def _fixed(self, arm: str) -> float | None:
        """The part of a run that does not grow with the training items (setup, validation, test)."""
        if arm not in self.first:
            return None
        _, val_s, setup_s = self.first[arm]
        return setup_s + (self.epochs + 2) * val_s  # validation each epoch, then val + test at the end

    def estimate(self, arm: str, n_train: int) -> float | None:
        n_train = self._items(arm, n_train)
        seen = self.runs.get(arm) or []
        if len({n for n, _ in seen}) >= 2:  # least squares fixed + rate * n (rate >= 0)
            import numpy as np

            n = np.array([p[0] for p in seen], float)
            s = np.array([p[1] for p in seen], float)
            rate, fixed = np.polyfit(n, s, 1)
            return float(max(fixed + max(rate, 0.0) * n_train, min(s)))
        if seen:  # one size measured: scale its variable part only
            n0, s0 = seen[-1]
            fixed = self._fixed(arm)
            fixed = 0.1 * s0 if fixed is None else min(fixed, 0.9 * s0)
            return float(fixed + (s0 - fixed) * n_train / max(n0, 1))
        model = self.first.get(arm) or next(iter(self.first.values()), None)
        if model is None:
            return None
        rate, val_s, setup_s = model
        return setup_s + self.epochs * (rate * n_train + val_s) + 2 * val_s
