"""Series geometry: order frames along the slice normal, check the stack, build the affine.

Slices are ordered by their position projected on the normal ``row_cosine x col_cosine``, never
by InstanceNumber (archives renumber, reverse and shuffle). Slice spacing comes from the
positions, not SliceThickness. Duplicate positions, mixed orientations or pixel spacings and
positions off a straight line raise ``inconsistent_geometry``; a non-uniform gap (a missing
slice) does too unless ``allow_nonuniform=True``, which stacks the slices as they are and flags
``slice_spacing_uniform=False``. Affine columns: row cosine x column spacing, column cosine x row
spacing, slice step; DICOM LPS is turned into RAS by negating the first two rows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from medtl.data.dicom_header import DicomFrame
from medtl.errors import ScanReadError

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
DUPLICATE_TOL_MM = 0.01  # two frames closer than this along the normal share a position
ORIENTATION_TOL = 1e-3  # cosine difference still called "the same orientation"


@dataclass
class SeriesGeometry:
    order: list[int]  # indices into the frames, in stack order
    affine: np.ndarray  # 4x4 index -> RAS mm
    spacing: tuple[float, ...]
    spatial_dims: int
    meta: dict = field(default_factory=dict)  # slice_spacing_uniform, slice_gap_max_deviation_mm, warnings


def gap_tolerance(step: float) -> float:
    """Largest deviation from the median gap still called uniform (rounding in the tags)."""
    return max(0.02, 0.05 * step)


def series_geometry(frames: list[DicomFrame], *, source: str, allow_nonuniform: bool = False) -> SeriesGeometry:
    if not frames:
        raise ScanReadError("no_pixel_data", "series has no frames", path=source)
    row, col, pixel_spacing, warnings = _orientation_and_spacing(frames, source)
    normal = np.cross(row, col)
    if len(frames) == 1:
        pos = frames[0].position if frames[0].position is not None else np.zeros(3)
        affine = _affine(row * pixel_spacing[1], col * pixel_spacing[0], normal, pos)
        return SeriesGeometry([0], affine, (pixel_spacing[1], pixel_spacing[0]), 2,
                              {"warnings": warnings} if warnings else {})
    missing = [f for f in frames if f.position is None]
    if missing and len(missing) < len(frames):
        raise ScanReadError("inconsistent_geometry", f"ImagePositionPatient missing on {_name(missing[0])}"
                            " while other slices have it", path=source)
    if missing:  # no geometry at all (e.g. cine without positions): acquisition order, unit steps
        order = sorted(range(len(frames)), key=lambda i: (frames[i].instance or 0, frames[i].file, frames[i].index))
        warnings.append("no ImagePositionPatient: frames stacked in acquisition order, slice spacing 1 mm assumed")
        affine = _affine(row * pixel_spacing[1], col * pixel_spacing[0], normal, np.zeros(3))
        return SeriesGeometry(order, affine, (pixel_spacing[1], pixel_spacing[0], 1.0), 3,
                              {"warnings": warnings, "slice_spacing_uniform": True})
    positions = np.stack([f.position for f in frames])
    dist = positions @ normal
    order = sorted(range(len(frames)), key=lambda i: (dist[i], frames[i].instance or 0))
    dist, positions = dist[order], positions[order]
    gaps = np.diff(dist)
    dup = int(np.argmin(gaps))
    if gaps[dup] < DUPLICATE_TOL_MM:
        a, b = frames[order[dup]], frames[order[dup + 1]]
        raise ScanReadError("inconsistent_geometry", f"duplicate slice position {np.round(positions[dup], 3).tolist()}"
                            f" (LPS mm) in {_name(a)} and {_name(b)}", path=source)
    # nominal gap: the median of the gaps near the smallest one (a missing slice makes a gap
    # larger, so with few slices the plain median would blame the wrong gap)
    step = float(np.median(gaps[gaps <= gaps.min() + gap_tolerance(float(gaps.min()))]))
    deviation = float(np.max(np.abs(gaps - step)))
    uniform = deviation <= gap_tolerance(step)
    if not uniform and not allow_nonuniform:
        worst = int(np.argmax(np.abs(gaps - step)))
        a, b = frames[order[worst]], frames[order[worst + 1]]
        raise ScanReadError("inconsistent_geometry", f"non-uniform slice spacing: gap of {gaps[worst]:.3f} mm between "
                            f"{_name(a)} and {_name(b)} (median gap {step:.3f} mm); a slice may be missing. "
                            "Pass allow_nonuniform=True to read it unresampled", path=source)
    if uniform:
        # first-to-last step: the volume's corners are exactly the first and last slices' corners
        # (this also keeps a gantry-tilted stack's shear)
        step_vec = (positions[-1] - positions[0]) / (len(frames) - 1)
        line = positions[0] + np.outer(np.arange(len(frames)), step_vec)
        off_line = float(np.max(np.linalg.norm(positions - line, axis=1)))
        if off_line > gap_tolerance(step):
            raise ScanReadError("inconsistent_geometry", f"slice positions do not lie on a line (off by up to "
                                f"{off_line:.3f} mm)", path=source)
        if np.linalg.norm(step_vec - (step_vec @ normal) * normal) > gap_tolerance(step):
            warnings.append("slices are sheared relative to the normal (gantry tilt); affine keeps the shear")
    else:
        step_vec = normal * step
        warnings.append(f"non-uniform slice spacing (max deviation {deviation:.3f} mm); stacked unresampled")
    affine = _affine(row * pixel_spacing[1], col * pixel_spacing[0], step_vec, positions[0])
    spacing = (pixel_spacing[1], pixel_spacing[0], float(np.linalg.norm(step_vec)))
    meta = {"slice_spacing_uniform": bool(uniform), "slice_gap_max_deviation_mm": round(deviation, 4)}
    if warnings:
        meta["warnings"] = warnings
    return SeriesGeometry(order, affine, spacing, 3, meta)


def _orientation_and_spacing(frames: list[DicomFrame], source: str):
    warnings: list[str] = []
    orients = [f.orientation for f in frames if f.orientation is not None]
    if orients and len(orients) < len(frames):
        raise ScanReadError("inconsistent_geometry", "ImageOrientationPatient missing on some slices", path=source)
    if orients:
        ref = orients[0]
        for f in frames:
            if np.max(np.abs(f.orientation - ref)) > ORIENTATION_TOL:
                raise ScanReadError("inconsistent_geometry", f"mixed orientations: {_name(f)} has "
                                    f"{np.round(f.orientation, 4).tolist()}, first slice {np.round(ref, 4).tolist()}; "
                                    "medtl inspect lists its consistent parts",
                                    path=source)
        norms = np.linalg.norm(ref[:3]), np.linalg.norm(ref[3:])
        row, col = ref[:3] / max(norms[0], 1e-12), ref[3:] / max(norms[1], 1e-12)
        if min(norms) < 0.5 or abs(row @ col) > 1e-2:
            raise ScanReadError("inconsistent_geometry", f"ImageOrientationPatient {ref.tolist()} is not two "
                                "orthogonal unit vectors", path=source)
    else:
        row, col = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
        warnings.append("no ImageOrientationPatient: identity orientation assumed")
    spacings = {f.pixel_spacing for f in frames}
    known = [s for s in spacings if s is not None]
    if len(known) > 1 and np.ptp(np.asarray(known), axis=0).max() > 1e-3 * max(max(known)):
        raise ScanReadError("inconsistent_geometry", f"mixed pixel spacings {sorted(known)}", path=source)
    if not known:
        warnings.append("no PixelSpacing: 1 mm pixels assumed")
    pixel_spacing = known[0] if known else (1.0, 1.0)
    return row, col, pixel_spacing, warnings


def _affine(col0: np.ndarray, col1: np.ndarray, col2: np.ndarray, origin: np.ndarray) -> np.ndarray:
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1], lps[:3, 2], lps[:3, 3] = col0, col1, col2, origin
    return LPS_TO_RAS @ lps


def _name(frame: DicomFrame) -> str:
    inst = f"instance {frame.instance}" if frame.instance is not None else "no InstanceNumber"
    where = os.path.basename(frame.file)
    return f"{where} ({inst}{f', frame {frame.index + 1}' if frame.index else ''})"
