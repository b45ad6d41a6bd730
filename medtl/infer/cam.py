"""Grad-CAM on the classification model's last encoder stage (MONAI ``GradCAM``).

One forward + backward pass gives both the logits (captured by a hook on the model) and the
maps, so asking for CAMs does not add a second forward pass. The backward pass is cut at the
target stage: the model's parameters do not require gradients (scoring never trains) and a
forward hook hands the rest of the network a detached copy of the stage's output that does. So
the forward pass records no autograd graph before the stage, and the backward pass runs only
through the layers after it (pooling and the head), instead of through the whole network into
every weight as MONAI's default does. Grad-CAM only needs d(score)/d(stage output), which this
gives exactly (same maps, tested); measured on EfficientNet-Lite0 at 64 px, batch 8: 79 ms
instead of 221 ms, against 68 ms for the plain forward pass.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


def last_stage_name(model: nn.Module, example: torch.Tensor) -> str:
    """Name of the outermost encoder module that produces the deepest feature map.

    Found by running ``forward_features`` once with forward hooks, so it works for every
    registered encoder without a per-architecture table. When the deepest map is computed outside
    any module (DenseNet applies a functional ReLU after ``norm5``), the last module whose output
    has the deepest map's shape is used.
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
    for name, out in reversed(finished):
        if isinstance(out, torch.Tensor) and out.shape == deepest.shape:
            return f"encoder.{name}"
    raise RuntimeError(f"no encoder module returns the deepest feature map of {type(encoder).__name__}")


def _minmax01(x: torch.Tensor) -> torch.Tensor:
    # MONAI's default_normalizer maps (min, max) to (1, 0), i.e. inverts the map; we want 1 = attention.
    flat = x.flatten(1)
    lo, hi = flat.min(1, keepdim=True)[0], flat.max(1, keepdim=True)[0]
    return ((flat - lo) / (hi - lo).clamp_min(1e-12)).view_as(x)


def _cut_graph(_module, _inputs, output):
    # the stage's output becomes a leaf: gradients stop here (see the module docstring)
    return output.detach().requires_grad_(True) if isinstance(output, torch.Tensor) else output


class CamEngine:
    """Logits and Grad-CAM maps (B, *spatial) in 0..1 for a batch, one pass each.

    Freezes ``model``'s parameters (``requires_grad=False``): use it on a model that is only scored.
    """

    def __init__(self, model: nn.Module, example: torch.Tensor):
        from monai.visualize import GradCAM

        self.model = model
        self.layer = last_stage_name(model, example)
        for p in model.parameters():
            p.requires_grad_(False)
        # prepended, so MONAI's own hooks on the stage see (and hook their gradient onto) the leaf
        model.get_submodule(self.layer).register_forward_hook(_cut_graph, prepend=True)
        self.cam = GradCAM(nn_module=model, target_layers=self.layer, postprocessing=_minmax01)
        # MONAI's class_score indexes logits[:, idx] with the per-sample index tensor, which mixes
        # samples when a batch has different predicted classes; pick each sample's own score.
        self.cam.nn_module.class_score = lambda logits, idx: logits.gather(1, idx.view(-1, 1)).squeeze(1)
        self._logits: torch.Tensor | None = None
        model.register_forward_hook(self._keep_logits)

    def _keep_logits(self, _module, _inputs, output) -> None:
        self._logits = output.detach()

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad(), warnings.catch_warnings():
            # expected: the stage's input needs no gradient, only its output (the cut) does
            warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
            maps = self.cam(x.float().requires_grad_(False))
        logits = self._logits
        self._logits = None
        return logits.float(), maps[:, 0].detach().float()
