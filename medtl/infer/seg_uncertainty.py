"""Per-case uncertainty of a segmentation, from the class probabilities scoring already has.

- **entropy**: the voxel-wise predictive entropy divided by log K (0 certain, 1 uniform) of the
  probabilities resampled onto the input's grid (those the mask is the argmax of), averaged over
  the predicted foreground and a one-voxel band around it (where a mask is right or wrong;
  averaging over the whole image would drown it in confident background);
- **TTA disagreement** (``--tta``): 1 - the mean Dice between the identity view's mask and each
  flipped view's mask (flipped back), over the foreground labels either predicts;
- the case's ``uncertainty`` combines them (:func:`combine`, chosen by measurement: docs/scoring.md).

``uncertain_slices``: per viewing plane, the slice of the preview whose summed entropy is highest,
so the review app opens where the model was least sure.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

# viewing plane -> the spatial axis it holds fixed (Scan axis convention, as medtl.review.viewer)
PLANE_AXIS = {"axial": 2, "coronal": 1, "sagittal": 0}
NEAR_MISS = 0.1  # an empty prediction: average over voxels with at least this foreground probability


def entropy_map(probs: torch.Tensor) -> torch.Tensor:
    """``(*spatial)`` normalised entropy of class probabilities ``(K, *spatial)``."""
    k = probs.shape[0]
    if k < 2:
        return torch.zeros(probs.shape[1:])
    p = probs.float()
    return (-(p * p.clamp_min(1e-12).log()).sum(0) / math.log(k)).clamp(0.0, 1.0)


def _dilate(region: torch.Tensor) -> torch.Tensor:
    """One-voxel binary dilation (3x3(x3) max filter)."""
    pool = F.max_pool3d if region.ndim == 3 else F.max_pool2d
    return pool(region[None, None].float(), kernel_size=3, stride=1, padding=1)[0, 0] > 0


def foreground_entropy(foreground: torch.Tensor, background_prob: torch.Tensor, entropy: torch.Tensor) -> float:
    """Mean entropy over the predicted ``foreground`` (bool) and its border; for an empty prediction
    over the voxels with at least NEAR_MISS foreground probability (0 when there are none)."""
    region = foreground
    if not bool(region.any()):
        region = (1.0 - background_prob) >= NEAR_MISS
    if not bool(region.any()):
        return 0.0
    band = _dilate(region)
    return float((entropy * band).sum() / band.sum())


def tta_dice_disagreement(views: torch.Tensor) -> float:
    """1 - mean Dice between view 0 (identity) and each other view; ``views``: ``(V, K, *spatial)``."""
    labels = views.argmax(1)
    k = views.shape[1]
    dices = []
    for other in labels[1:]:
        for c in range(1, k):
            a, b = labels[0] == c, other == c
            total = int(a.sum()) + int(b.sum())
            if total:
                dices.append(2.0 * int((a & b).sum()) / total)
    return 1.0 - float(np.mean(dices)) if dices else 0.0


def combine(entropy: float, disagreement: float | None) -> float:
    """The case's uncertainty: the entropy alone without TTA; with TTA the mean of the two."""
    if disagreement is None:
        return float(entropy)
    return float(0.5 * entropy + 0.5 * disagreement)


def uncertain_slices(entropy_preview: np.ndarray) -> dict[str, int]:
    """0-based index of the highest-entropy slice per viewing plane of a 3D preview ({} in 2D)."""
    if entropy_preview.ndim != 3:
        return {}
    out = {}
    for plane, axis in PLANE_AXIS.items():
        sums = entropy_preview.sum(axis=tuple(a for a in range(3) if a != axis))
        out[plane] = int(np.argmax(sums))
    return out
