"""What a segmentation mask looks like, and what the training masks looked like.

:func:`measure_mask` describes one label map on its own grid (size per label, connected parts per
label, whether it reaches the edge of the image, field of view and voxel spacing).
:func:`summarize` turns the measures of the training masks into the statistics stored beside a
segmentation model (``mask_stats.json``, written by ``medtl train``); scoring compares each
predicted mask's measures with them (``medtl.infer.quality``). One measurement function for both,
so a training mask and a prediction are measured the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medtl.errors import DataError
from medtl.fileio import atomic_write_json

STATS_FILE = "mask_stats.json"
FORMAT = 1
MIN_PART_SHARE = 0.02  # a connected part counts when it holds at least this share of its label's voxels


@dataclass(frozen=True)
class MaskMeasures:
    sizes: dict[str, float]  # per foreground label: mL (3D) or mm^2 (2D)
    components: dict[str, int]  # per foreground label: connected parts of >= MIN_PART_SHARE (0 = absent)
    border_voxels: int  # foreground voxels on the outermost layer of the grid
    extent_mm: tuple[float, ...]  # field of view per spatial axis
    spacing_mm: tuple[float, ...]

    @property
    def empty(self) -> bool:
        return not any(self.components.values())


def measure_mask(mask: np.ndarray, spacing, label_names: list[str]) -> MaskMeasures:
    """Measures of an integer label map ``mask`` (spatial only) with voxel ``spacing`` in mm."""
    from skimage.measure import label as connected

    mask = np.asarray(mask)
    spacing = tuple(float(s) for s in spacing)[: mask.ndim]
    unit = float(np.prod(spacing)) / (1000.0 if mask.ndim == 3 else 1.0)
    counts = np.bincount(mask.ravel().astype(np.int64), minlength=len(label_names))
    sizes, parts = {}, {}
    for k, name in enumerate(label_names[1:], start=1):
        sizes[name] = float(counts[k]) * unit
        parts[name] = _parts(connected(mask == k, connectivity=mask.ndim)) if counts[k] else 0
    border = 0
    for axis in range(mask.ndim):
        for end in (0, mask.shape[axis] - 1):
            border += int(np.count_nonzero(np.take(mask, end, axis=axis)))
    extent = tuple(float(n) * s for n, s in zip(mask.shape, spacing))
    return MaskMeasures(sizes, parts, border, extent, spacing)


def _parts(labelled: np.ndarray) -> int:
    """Connected parts holding at least MIN_PART_SHARE of the label's voxels (specks of a few
    voxels are not a second structure)."""
    sizes = np.bincount(labelled.ravel())[1:]
    return int(np.count_nonzero(sizes >= MIN_PART_SHARE * sizes.sum()))


def summarize(measures: list[MaskMeasures], label_names: list[str]) -> dict:
    """The training statistics stored in ``mask_stats.json`` (see docs/scoring.md)."""
    if not measures:
        raise DataError("no training masks to summarise")
    names = label_names[1:]
    extents = np.array([sorted(m.extent_mm) for m in measures], dtype=np.float64)
    spacings = np.array([sorted(m.spacing_mm) for m in measures], dtype=np.float64)
    return {
        "format": FORMAT,
        "n_masks": len(measures),
        "label_names": list(label_names),
        "unit": "mL" if len(measures[0].extent_mm) == 3 else "mm2",
        "empty_fraction": float(np.mean([m.empty for m in measures])),
        "size_p01": {n: float(np.percentile([m.sizes[n] for m in measures], 1)) for n in names},
        "size_p99": {n: float(np.percentile([m.sizes[n] for m in measures], 99)) for n in names},
        "single_part_fraction": {n: float(np.mean([m.components[n] <= 1 for m in measures])) for n in names},
        "border_fraction": float(np.mean([m.border_voxels > 0 for m in measures])),
        "extent_mm_sorted": {"min": extents.min(0).tolist(), "max": extents.max(0).tolist()},
        "spacing_mm_sorted": {"min": spacings.min(0).tolist(), "max": spacings.max(0).tolist()},
    }


def mask_array(path: str | Path) -> tuple[np.ndarray, tuple[float, ...]]:
    """A training mask as an integer label map (spatial only; {0, 255} masks become {0, 1}) and its spacing."""
    import torch

    from medtl.data.loadscan import is_0_255_mask
    from medtl.data.read import read_scan

    scan = read_scan(path)
    array = scan.array[0]
    if is_0_255_mask(torch.as_tensor(array)):
        array = array > 0
    return np.rint(array).astype(np.int64), tuple(scan.spacing)


def training_stats(records: list[dict], label_names: list[str]) -> dict:
    """Statistics of the ``mask`` of each training record (paths, or arrays with unit spacing)."""
    measures = []
    for rec in records:
        mask = rec.get("mask")
        if isinstance(mask, np.ndarray):
            array = np.rint(np.asarray(mask)).astype(np.int64)
            array = array[0] if array.ndim > 2 and array.shape[0] == 1 else array
            spacing = (1.0,) * array.ndim
        else:
            array, spacing = mask_array(mask)
        if array.ndim == 3 and array.shape[-1] == 1:  # a 2D mask read as one slice
            array, spacing = array[..., 0], spacing[:2]
        measures.append(measure_mask(array, spacing, label_names))
    return summarize(measures, label_names)


def write_stats(model_dir: str | Path, stats: dict) -> Path:
    path = Path(model_dir) / STATS_FILE
    atomic_write_json(path, stats)
    return path


def read_stats(model_dir: str | Path) -> dict | None:
    """``mask_stats.json`` of a model directory; ``None`` when absent (a model trained before it
    existed, or a classifier). An unreadable file raises :class:`DataError` naming it."""
    path = Path(model_dir) / STATS_FILE
    if not path.is_file():
        return None
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"unreadable mask statistics: {exc}", path=path) from None
    if not isinstance(stats, dict) or stats.get("format") != FORMAT:
        raise DataError(f"mask statistics format must be {FORMAT}", path=path)
    return stats
