"""Quality flags of one predicted segmentation: rules that compare its mask with the training
masks' statistics (``mask_stats.json``, see ``medtl.data.mask_stats``). Each flag is a code and a
reason a reviewer can read. Without statistics (a model trained before they were stored) only the
rule that needs none applies: the mask reaching the edge of the image.

Rules (docs/scoring.md "Quality flags"):

- ``empty``: nothing predicted, while under ``EMPTY_RARE`` of the training masks were empty;
- ``size_out_of_range``: a label's volume (area in 2D) outside the training 1st-99th percentile;
- ``fragmented``: a label in several separate parts (each of at least ``MIN_PART_SHARE`` of its
  voxels, ``medtl.data.mask_stats``) where at least ``SINGLE_PART_USUAL`` of the training masks
  had it in one;
- ``touches_border``: foreground on the outermost voxels of the image, unless at least
  ``BORDER_USUAL`` of the training masks did too;
- ``fov_out_of_range`` / ``spacing_out_of_range``: the input's field of view or voxel spacing
  (per axis, sorted, so the axis order does not matter) more than ``FAR`` times beyond the
  training inputs' range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medtl.data.mask_stats import MaskMeasures

EMPTY_RARE = 0.05
SINGLE_PART_USUAL = 0.9
BORDER_USUAL = 0.1
FAR = 1.5
FLAGS = ("empty", "size_out_of_range", "fragmented", "touches_border", "fov_out_of_range", "spacing_out_of_range")


@dataclass(frozen=True)
class Flag:
    code: str
    reason: str

    def as_dict(self) -> dict:
        return {"code": self.code, "reason": self.reason}


def _fmt(values) -> str:
    return " x ".join(f"{v:.3g}" for v in values)


def _size_flags(m: MaskMeasures, stats: dict) -> list[Flag]:
    out = []
    for name, size in m.sizes.items():
        lo, hi = stats["size_p01"].get(name), stats["size_p99"].get(name)
        if lo is None or hi is None or lo <= size <= hi:
            continue
        out.append(Flag("size_out_of_range", f"{name} {size:.3g} {stats['unit']} is outside the training "
                                             f"1st-99th percentile {lo:.3g}-{hi:.3g} {stats['unit']}"))
    return out


def _part_flags(m: MaskMeasures, stats: dict) -> list[Flag]:
    out = []
    for name, parts in m.components.items():
        usual = stats["single_part_fraction"].get(name)
        if parts > 1 and usual is not None and usual >= SINGLE_PART_USUAL:
            out.append(Flag("fragmented", f"{name} is in {parts} separate parts; {usual:.0%} of the training "
                                          f"masks had it in one"))
    return out


def _range_flag(code: str, what: str, values, rng: dict | None) -> list[Flag]:
    if not rng or len(rng["min"]) != len(values):
        return []
    v, lo, hi = np.sort(np.asarray(values, np.float64)), np.asarray(rng["min"]), np.asarray(rng["max"])
    if np.all(v >= lo / FAR) and np.all(v <= hi * FAR):
        return []
    return [Flag(code, f"input {what} {_fmt(v)} mm is far outside the training inputs' "
                       f"{_fmt(lo)} to {_fmt(hi)} mm (axes sorted)")]


def quality_flags(m: MaskMeasures, stats: dict | None) -> list[Flag]:
    """The flags of one predicted mask (``stats``: ``mask_stats.json`` or ``None``)."""
    flags: list[Flag] = []
    if stats is not None:
        flags += _range_flag("fov_out_of_range", "field of view", m.extent_mm, stats.get("extent_mm_sorted"))
        flags += _range_flag("spacing_out_of_range", "voxel spacing", m.spacing_mm, stats.get("spacing_mm_sorted"))
        if m.empty and stats["empty_fraction"] < EMPTY_RARE:
            flags.append(Flag("empty", f"nothing segmented; {stats['empty_fraction']:.0%} of the "
                                       f"{stats['n_masks']} training masks were empty"))
        if not m.empty:
            flags += _size_flags(m, stats) + _part_flags(m, stats)
    usual_border = stats is not None and stats["border_fraction"] >= BORDER_USUAL
    if m.border_voxels and not usual_border:
        flags.append(Flag("touches_border", f"the mask reaches the edge of the image ({m.border_voxels} "
                                            f"{'voxels' if len(m.extent_mm) == 3 else 'pixels'})"))
    return flags
