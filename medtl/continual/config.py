"""``ContinualConfig``: the ``continual:`` section of a training config (``medtl train --init-from``).

Kept here, next to the code it drives, so ``medtl.train.config.TrainConfig`` can hold it as a
field (``continual: ContinualConfig``) and ``--set continual.method=ewc`` works like any key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from medtl.errors import ConfigError

METHODS = ("none", "l2sp", "ewc", "rehearsal")
MODES = ("auto", "same_task", "new_task")


@dataclass
class ContinualConfig:
    method: str = "none"  # none | l2sp | ewc | rehearsal (forgetting control with --init-from)
    mode: str = "auto"  # auto (same label names -> same_task, else new_task) | same_task | new_task
    alpha: float = 0.01  # L2-SP: weight of the drift from the starting weights
    beta: float = 0.0001  # L2-SP: plain L2 on parameters new in this run (a new head)
    ewc_lambda: float = 10.0  # EWC: lambda of lambda/2 * sum F (theta - theta*)^2
    ewc_normalize: bool = True  # EWC: divide F by its mean over the encoder, so lambda is scale-free
    ewc_batches: int = 20  # EWC: old-task batches used to estimate the Fisher
    rehearsal_size: int = 100  # rehearsal: earlier training records kept (class-stratified, seeded)
    rehearsal_ratio: float | None = None  # fraction of replayed records per epoch; null = each once
    seed: int = 0  # rehearsal sample and mixing

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> ContinualConfig:
        d = dict(d or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown config key 'continual.{unknown[0]}' (known: {sorted(known)})")
        return cls(**d).validate()

    def validate(self) -> ContinualConfig:
        if self.method not in METHODS:
            raise ConfigError(f"continual.method must be one of {METHODS}, got {self.method!r}")
        if self.mode not in MODES:
            raise ConfigError(f"continual.mode must be one of {MODES}, got {self.mode!r}")
        for key in ("alpha", "beta", "ewc_lambda"):
            if getattr(self, key) < 0:
                raise ConfigError(f"continual.{key} must be >= 0, got {getattr(self, key)}")
        if self.ewc_batches < 1:
            raise ConfigError(f"continual.ewc_batches must be >= 1, got {self.ewc_batches}")
        if self.rehearsal_size < 0:
            raise ConfigError(f"continual.rehearsal_size must be >= 0, got {self.rehearsal_size}")
        if self.rehearsal_ratio is not None and not 0 <= self.rehearsal_ratio < 1:
            raise ConfigError(f"continual.rehearsal_ratio must be in [0, 1), got {self.rehearsal_ratio}")
        return self

    def params(self) -> dict:
        """The hyperparameters of the chosen method (recorded in the lineage entry)."""
        keys = {"none": (), "l2sp": ("alpha", "beta"), "ewc": ("ewc_lambda", "ewc_normalize", "ewc_batches"),
                "rehearsal": ("rehearsal_size", "rehearsal_ratio", "seed")}[self.method]
        return {k: getattr(self, k) for k in keys}
