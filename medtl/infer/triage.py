"""One scored segmentation's triage fields: uncertainty, confidence, quality flags, the most
uncertain slices and the entropy map on the preview grid (see docs/scoring.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from medtl.data.mask_stats import measure_mask
from medtl.infer.geometry import cam_to_preview
from medtl.infer.outputs import DIGITS
from medtl.infer.quality import quality_flags
from medtl.infer.seg_uncertainty import combine, entropy_map, foreground_entropy, uncertain_slices


@dataclass
class Triage:
    row: dict  # predictions.csv columns: uncertainty, confidence, flags (and tta_disagreement)
    info: dict  # case.json fields
    entropy_preview: np.ndarray | None = field(default=None, repr=False)


def triage(pred, mask: np.ndarray, spacing, label_names: list[str], stats: dict | None, *,
           x_affine, preview_affine, preview_shape) -> Triage:
    """``pred``: the case's Prediction (probabilities on the preprocessed grid at ``x_affine``,
    ``disagreement`` = 1 - TTA Dice or None); ``mask``: the label map on the input's grid."""
    entropy = entropy_map(pred.probs)
    parts = {"entropy": round(foreground_entropy(pred.probs, entropy), DIGITS)}
    if pred.disagreement is not None:
        parts["tta_disagreement"] = round(float(pred.disagreement), DIGITS)
    uncertainty = round(combine(parts["entropy"], parts.get("tta_disagreement")), DIGITS)
    flags = quality_flags(measure_mask(mask, spacing, label_names), stats)
    ent_preview = cam_to_preview(entropy, x_affine, preview_affine, preview_shape)
    row = {"uncertainty": uncertainty, "confidence": round(1.0 - uncertainty, DIGITS),
           "flags": ";".join(f.code for f in flags)}
    if "tta_disagreement" in parts:
        row["tta_disagreement"] = parts["tta_disagreement"]
    info = {"uncertainty": uncertainty, "confidence": row["confidence"], "uncertainty_parts": parts,
            "flags": [f.as_dict() for f in flags], "uncertain_slices": uncertain_slices(ent_preview)}
    return Triage(row, info, ent_preview)
