"""Batch predictions from a loaded model directory: calibrated probabilities, flip TTA, CAMs.

Classification: temperature from model.json, softmax (sigmoid for one output or multi-label);
with TTA the probabilities are averaged over the identity and one flip per TTA axis (the axes the
model was trained with, see ``medtl.models.tta``; default every spatial axis) and the
disagreement between views is reported as normalised mutual information (0 = all views agree).
Segmentation: MONAI sliding windows over the training patch size (``predict_logits``), flips
undone before averaging; with TTA the disagreement is 1 - the Dice between the views' masks
(``medtl.infer.seg_uncertainty``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from medtl.infer.seg_uncertainty import tta_dice_disagreement
from medtl.models import predict_logits
from medtl.models.tta import check_axes, flip_views


@dataclass
class Prediction:
    probs: torch.Tensor  # classification (K,); segmentation (K, *spatial) on the preprocessed grid
    disagreement: float | None = None
    cam: torch.Tensor | None = None  # (*spatial) 0..1 on the preprocessed grid
    cam_preview: np.ndarray | None = None  # the cam on the preview grid (set in batches by the scorer)


def _entropy(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return -(p.clamp_min(1e-12).log() * p).sum(dim)


class Predictor:
    """``tta_axes``: spatial axes flipped for TTA (0 = first spatial axis; ``None``: every axis;
    ``()``: the identity view only). ``score()`` passes the model's training flips
    (``medtl.models.tta.tta_flips``)."""

    def __init__(self, loaded, *, tta: bool = False, cam: bool = True, roi_size=None, tta_axes=None):
        self.loaded = loaded
        self.model = loaded.model
        self.task = loaded.task
        self.tta = tta
        self.tta_axes = None if tta_axes is None else tuple(int(a) for a in tta_axes)
        self.want_cam = cam and loaded.task == "classification"
        self.roi_size = roi_size
        self.temperature = float(loaded.temperature or 1.0)
        self.multilabel = bool(loaded.multilabel)
        self.n_labels = len(loaded.label_names)
        self._cam = None

    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _probs(self, logits: torch.Tensor) -> torch.Tensor:
        logits = logits.float() / self.temperature
        if self.task == "segmentation":
            return torch.softmax(logits, 1)
        if logits.shape[1] == 1 and self.n_labels == 2:  # one-logit binary head
            p = torch.sigmoid(logits)
            return torch.cat([1 - p, p], 1)
        return torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, 1)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return predict_logits(self.model, x, roi_size=self.roi_size)

    def __call__(self, x: torch.Tensor) -> list[Prediction]:
        x = x.to(self._device(), dtype=torch.float32)
        maps = None
        if self.want_cam:
            if self._cam is None:
                from medtl.infer.cam import CamEngine

                self._cam = CamEngine(self.model, x[:1])
            logits, maps = self._cam(x)
        else:
            logits = self._logits(x)
        probs = self._probs(logits)
        if self.tta:
            nd = x.ndim - 2
            axes = range(nd) if self.tta_axes is None else check_axes(self.tta_axes, nd)
            stacked = flip_views(lambda v: self._probs(self._logits(v)), x, axes,
                                 spatial_output=self.task == "segmentation", identity=probs)
        else:
            stacked = probs[None]  # (V, B, K, ...)
        mean = stacked.mean(0).cpu()
        disagreement = None
        if self.tta and self.task == "classification":
            disagreement = self._disagreement(stacked)
        elif self.tta:  # segmentation: 1 - Dice between the identity view's mask and each flip's
            disagreement = [tta_dice_disagreement(stacked[:, i]) for i in range(x.shape[0])]
        return [Prediction(mean[i], None if disagreement is None else float(disagreement[i]),
                           None if maps is None else maps[i].cpu())
                for i in range(x.shape[0])]

    def _disagreement(self, stacked: torch.Tensor) -> torch.Tensor:
        """Normalised mutual information between the TTA views' predictions (BALD)."""
        if self.multilabel:
            def h(p):
                return -(p.clamp_min(1e-12).log() * p + (1 - p).clamp_min(1e-12).log() * (1 - p)).mean(-1)
            scale = math.log(2)
        else:
            h = _entropy
            scale = math.log(max(stacked.shape[-1], 2))
        mi = h(stacked.mean(0)) - h(stacked).mean(0)
        return (mi.clamp_min(0) / scale).cpu()
