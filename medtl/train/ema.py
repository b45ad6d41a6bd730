"""Exponential moving average of the weights (Polyak averaging), the model that is validated and kept.

On a few hundred cases the weights after any one epoch are noisy, and so is the choice of the best
epoch on a validation split of ~100 cases; an average along the trajectory is a smoother model at
no extra training cost (on medtl's own benchmarks it did not measurably change test AUC:
docs/benchmarks/NOTES.md). Built on :class:`torch.optim.swa_utils.AveragedModel`
(parameters and BatchNorm buffers averaged). Hand-written here: the averaging function, because
torch's ``get_ema_multi_avg_fn`` uses a fixed decay; ours warms it up as TensorFlow's
``ExponentialMovingAverage(num_updates=...)`` does, ``min(decay, (1 + n) / (10 + n))``, so that the
first epochs of a run from scratch are not an average dominated by the random initialisation.
"""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel


def ema_multi_avg_fn(decay: float):
    """``multi_avg_fn`` for AveragedModel: in-place EMA of float tensors; integer buffers are copied."""

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], num_averaged: torch.Tensor) -> None:
        n = float(num_averaged)
        d = min(decay, (1.0 + n) / (10.0 + n))
        for avg, cur in zip(averaged, current, strict=True):
            if avg.is_floating_point():
                avg.lerp_(cur, 1.0 - d)
            else:  # BatchNorm's num_batches_tracked
                avg.copy_(cur)

    return update


def make_ema(model: torch.nn.Module, decay: float) -> AveragedModel | None:
    """An averaged copy of ``model`` (unwrapped, on its device), or ``None`` when ``decay`` is 0 (off)."""
    if decay <= 0:
        return None
    return AveragedModel(model, multi_avg_fn=ema_multi_avg_fn(decay), use_buffers=True)
