"""Grad-CAM on the classification model's last encoder stage (MONAI ``GradCAM``).

One forward + backward pass gives both the logits (captured by a hook on the model) and the
maps, so asking for CAMs does not add a second forward pass.
"""

from __future__ import annotations

import torch
from torch import nn


def last_stage_name(model: nn.Module, example: torch.Tensor) -> str:
    """Name of the outermost encoder module that produces the deepest feature map.

    Found by running ``forward_features`` once with forward hooks, so it works for every
    registered encoder without a per-architecture table.
    """
    encoder = model.encoder
    finished: list[tuple[str, torch.Tensor]] = []
    handles = [m.register_forward_hook(lambda _m, _i, out, name=name: finished.append((name, out)))
               for name, m in encoder.named_modules() if name]
    try:
        with torch.no_grad():
            deepest = encoder.forward_features(example)[-1]
    finally:
        for h in handles:
            h.remove()
    for name, out in reversed(finished):
        if isinstance(out, torch.Tensor) and out.data_ptr() == deepest.data_ptr() and out.shape == deepest.shape:
            return f"encoder.{name}"
    raise RuntimeError(f"no encoder module returns the deepest feature map of {type(encoder).__name__}")


def _minmax01(x: torch.Tensor) -> torch.Tensor:
    # MONAI's default_normalizer maps (min, max) to (1, 0), i.e. inverts the map; we want 1 = attention.
    flat = x.flatten(1)
    lo, hi = flat.min(1, keepdim=True)[0], flat.max(1, keepdim=True)[0]
    return ((flat - lo) / (hi - lo).clamp_min(1e-12)).view_as(x)


class CamEngine:
    """Logits and Grad-CAM maps (B, *spatial) in 0..1 for a batch, one pass each."""

    def __init__(self, model: nn.Module, example: torch.Tensor):
        from monai.visualize import GradCAM

        self.model = model
        self.layer = last_stage_name(model, example)
        self.cam = GradCAM(nn_module=model, target_layers=self.layer, postprocessing=_minmax01)
        # MONAI's class_score indexes logits[:, idx] with the per-sample index tensor, which mixes
        # samples when a batch has different predicted classes; pick each sample's own score.
        self.cam.nn_module.class_score = lambda logits, idx: logits.gather(1, idx.view(-1, 1)).squeeze(1)
        self._logits: torch.Tensor | None = None
        model.register_forward_hook(self._keep_logits)

    def _keep_logits(self, _module, _inputs, output) -> None:
        self._logits = output.detach()

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            maps = self.cam(x.float().requires_grad_(False))
        logits = self._logits
        self._logits = None
        return logits.float(), maps[:, 0].detach().float()
