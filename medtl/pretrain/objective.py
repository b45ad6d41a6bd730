"""Self-supervised reconstruction as an objective of the training loop (``medtl.train.loop.Objective``).

Batches arrive normalised (``(x - mean) / std`` after the [0, 1] intensity preset). Models Genesis
corrupts intensities in [0, 1], so the batch is mapped back, corrupted and normalised again; the
network (encoder + U-Net decoder + a 1x1 head with one output per input channel) predicts the
normalised original. Validation corrupts the held-out scans with a fixed generator, so every
epoch is judged on the same corruptions; the metric is the PSNR (dB, [0, 1] intensities) of the
restored image (genesis: every voxel; mim: the hidden voxels).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from medtl.pretrain import genesis, mim
from medtl.train.loop import Runtime, Validation, batch_inputs

VAL_SEED = 20_261_206


@dataclass
class ReconstructionObjective:
    method: str  # genesis | mim
    ssl: object  # SSLConfig
    mean: tuple[float, ...]
    std: tuple[float, ...]
    metric_name: str = field(default="psnr", init=False)

    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        mean = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device).reshape(shape)
        std = torch.as_tensor(self.std, dtype=x.dtype, device=x.device).reshape(shape)
        return mean, std

    def corrupt(self, x: torch.Tensor, generator=None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(network input, per-voxel loss weight or None for every voxel) for a normalised batch."""
        with torch.no_grad():
            if self.method == "mim":
                return mim.corrupt(x, self.ssl, generator)
            mean, std = self._stats(x)
            unit = (x * std + mean).clamp(0.0, 1.0)
            return (genesis.corrupt(unit, self.ssl, generator) - mean) / std, None

    def _errors(self, pred: torch.Tensor, x: torch.Tensor, weight: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(training loss, squared error in [0, 1] units, both averaged over the scored voxels)."""
        _, std = self._stats(x)
        diff = pred - x
        if weight is None:
            loss = (diff ** 2).mean()
            sq = ((diff * std) ** 2).mean()
        else:
            n = (weight.sum() * x.shape[1]).clamp_min(1.0)
            loss = (diff.abs() * weight).sum() / n
            sq = (((diff * std) ** 2) * weight).sum() / n
        return loss, sq

    def train_loss(self, model, batch: dict, rt: Runtime):
        x = batch_inputs(batch, rt)
        inp, weight = self.corrupt(x)
        with rt.autocast():
            pred = model(inp).float()
        loss, _ = self._errors(pred, x, weight)
        return loss, x.shape[0]

    @torch.no_grad()
    def validate(self, model, loader, rt: Runtime, desc: str = "val") -> Validation:
        from medtl.train.loop import _bar

        model.eval()
        gen = torch.Generator().manual_seed(VAL_SEED)
        loss_sum, sq_sum, n = 0.0, 0.0, 0
        for batch in _bar(loader, rt, desc=desc, leave=False, unit="batch"):
            x = batch_inputs(batch, rt)
            inp, weight = self.corrupt(x, gen)
            with rt.autocast():
                pred = model(inp).float()
            loss, sq = self._errors(pred, x, weight)
            loss_sum += float(loss) * x.shape[0]
            sq_sum += float(sq) * x.shape[0]
            n += x.shape[0]
        loss = loss_sum / max(n, 1)
        value = genesis.psnr(sq_sum / max(n, 1))
        return Validation(loss=loss, metric=value, values={"psnr": value})
