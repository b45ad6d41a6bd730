"""Mixed DICOM series split into consistent parts, as dcm2niix and GDCM do.

A series whose files have two or more image sizes (rows, columns, samples) or orientations (a
three-plane localizer, a scout stored with the volume) cannot be one stack. Its files are
grouped into parts of one size and one orientation (within ``ORIENTATION_TOL``), ordered by
their lowest InstanceNumber, then file name; discovery gives each part its own ref
(``<series>#1``, ``<series>#2``, ...), read with its own geometry, where the usual gap and
duplicate checks still apply. Parts of fewer than ``MIN_PART_SLICES`` frames are localizer-like:
listed, but not scored unless asked.
"""

from __future__ import annotations

import numpy as np

from medtl.data.dicom_header import DicomHeader
from medtl.data.dicom_series import ORIENTATION_TOL

MIN_PART_SLICES = 3


def _orientation(header: DicomHeader) -> np.ndarray | None:
    return header.frames[0].orientation if header.frames else None


def _same(a: DicomHeader, b: DicomHeader) -> bool:
    if (a.rows, a.cols, a.samples) != (b.rows, b.cols, b.samples):
        return False
    oa, ob = _orientation(a), _orientation(b)
    if oa is None or ob is None:
        return oa is None and ob is None
    return bool(np.max(np.abs(oa - ob)) <= ORIENTATION_TOL)


def split_parts(headers: list[DicomHeader]) -> list[list[DicomHeader]]:
    """Headers of one series grouped by image size and orientation; one group when consistent."""
    parts: list[list[DicomHeader]] = []
    for header in sorted(headers, key=lambda h: h.path):
        for part in parts:
            if _same(part[0], header):
                part.append(header)
                break
        else:
            parts.append([header])
    return sorted(parts, key=_first_instance)


def _first_instance(part: list[DicomHeader]) -> tuple:
    instances = [f.instance for h in part for f in h.frames if f.instance is not None]
    return (min(instances) if instances else float("inf"), part[0].path)


def n_frames(part: list[DicomHeader]) -> int:
    return sum(max(1, len(h.frames)) for h in part)


def describe(part: list[DicomHeader]) -> str:
    """``"3 slices 256x256, orientation [1, 0, 0, 0, 1, 0]"``: what makes a part one stack."""
    ori = _orientation(part[0])
    where = f", orientation {np.round(ori, 3).tolist()}" if ori is not None else ""
    n = n_frames(part)
    return f"{n} slice{'' if n == 1 else 's'} {part[0].cols}x{part[0].rows}{where}"
