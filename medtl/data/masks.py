"""Several binary mask files for one image, merged as their union when read.

A manifest ``mask`` cell may list several files separated by ``;`` (the image/mask-sibling layout
writes one per ``<stem>_mask*`` file). They are merged at read time, so nothing derived is ever
written next to the user's data: each must have the image's shape and hold a binary mask (values
{0, 1} or {0, 255}); the result is 1 where any of them is set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from medtl.data.scan import Scan
from medtl.errors import DataError

MASK_SEPARATOR = ";"


def split_mask_cell(text: str) -> list[str]:
    """``"a.png;b.png"`` -> ``["a.png", "b.png"]`` (blank parts dropped)."""
    return [t.strip() for t in text.split(MASK_SEPARATOR) if t.strip()]


def _binary(array: np.ndarray) -> np.ndarray | None:
    values = set(np.unique(array).tolist())
    if values <= {0.0, 1.0} or values <= {0.0, 255.0}:
        return array > 0
    return None


def merge_masks(scans: Sequence[Scan]) -> Scan:
    """The union of binary mask scans of one shape, as a 0/1 float32 scan with the first's geometry."""
    first = scans[0]
    union = np.zeros(first.array.shape, dtype=bool)
    for scan in scans:
        if scan.array.shape != first.array.shape:
            raise DataError(f"mask shape {tuple(scan.array.shape)} differs from {tuple(first.array.shape)} "
                            f"of {first.source}; masks of one image must have one shape", path=scan.source)
        binary = _binary(scan.array)
        if binary is None:
            raise DataError("only binary masks (values 0/1 or 0/255) can be merged; this one holds other "
                            "values", path=scan.source)
        union |= binary
    return Scan(array=union.astype(np.float32), affine=first.affine, spacing=first.spacing, format=first.format,
                source=first.source, files=[f for s in scans for f in s.files], meta=dict(first.meta))


def read_mask(value: str | Path | Sequence[str | Path], reader: Callable | None = None) -> Scan:
    """One mask path, or several merged (:func:`merge_masks`); ``reader`` defaults to ``read_scan``."""
    if reader is None:
        from medtl.data.read import read_scan as reader
    if isinstance(value, str | Path):
        return reader(value)
    scans = [reader(v) for v in value]
    return scans[0] if len(scans) == 1 else merge_masks(scans)
