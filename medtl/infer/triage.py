"""One scored segmentation's triage fields: uncertainty, confidence, quality flags, the most
uncertain slices and the entropy map on the preview grid (see docs/scoring.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from medtl.data.mask_stats import measure_mask
from medtl.infer.geometry import mask_to_preview
from medtl.infer.outputs import DIGITS
from medtl.infer.quality import quality_flags
from medtl.infer.seg_uncertainty import combine, entropy_map, foreground_entropy, uncertain_slices


@dataclass
class Triage:
    row: dict  # predictions.csv columns: uncertainty, confidence, flags (and tta_disagreement)
    info: dict  # case.json fields
    mask_preview: np.ndarray | None = field(default=None, repr=False)
    entropy_preview: np.ndarray | None = field(default=None, repr=False)


def triage(probs, mask: np.ndarray, disagreement: float | None, spacing, label_names: list[str],
           stats: dict | None, *, scan_affine, preview_affine, preview_shape) -> Triage:
    """``probs``: the class probabilities on the input's grid (K, *spatial), ``mask`` their argmax;
    ``disagreement``: 1 - TTA Dice (``Prediction.disagreement``) or None. The mask and the entropy
    map go to the preview grid in one resampling call."""
    import torch

    entropy = entropy_map(probs)
    region = torch.from_numpy(np.ascontiguousarray(mask) > 0)
    parts = {"entropy": round(foreground_entropy(region, probs[0], entropy), DIGITS)}
    if disagreement is not None:
        parts["tta_disagreement"] = round(float(disagreement), DIGITS)
    uncertainty = round(combine(parts["entropy"], parts.get("tta_disagreement")), DIGITS)
    flags = quality_flags(measure_mask(mask, spacing, label_names), stats)
    mask_preview, ent_preview = mask_to_preview(mask, scan_affine, preview_affine, preview_shape, extra=entropy)
    row = {"uncertainty": uncertainty, "confidence": round(1.0 - uncertainty, DIGITS),
           "flags": ";".join(dict.fromkeys(f.code for f in flags))}  # a code once, even if two labels raise it
    if "tta_disagreement" in parts:
        row["tta_disagreement"] = parts["tta_disagreement"]
    info = {"uncertainty": uncertainty, "confidence": row["confidence"], "uncertainty_parts": parts,
            "flags": [f.as_dict() for f in flags], "uncertain_slices": uncertain_slices(ent_preview)}
    return Triage(row, info, mask_preview, ent_preview)
