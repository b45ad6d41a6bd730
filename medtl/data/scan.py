"""The one image type every reader returns.

Axis convention (the same as MONAI/ITK, so MONAI transforms and inferers behave identically):
``array`` is channel-first, ``(C, *spatial)``. The first spatial axis runs along image columns
(left to right on screen), the second along rows (top to bottom), the third (3D) along slices.
``affine`` maps a spatial index ``(i, j, k, 1)`` to RAS millimetres for 3D scans; for 2D scans
it maps ``(i, j, 0, 1)`` (the third column is the plane normal). ``spacing`` has one entry per
spatial axis, in millimetres (1.0 where the format has no physical size, e.g. PNG).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Metadata keys a Scan may carry. None of them identifies a patient.
SAFE_META_KEYS = (
    "modality",
    "photometric_interpretation",
    "series_instance_uid",
    "study_instance_uid",
    "frame_of_reference_uid",
    "sop_class_uid",
    "series_description",
    "body_part",
    "rescale_applied",
    "slice_spacing_uniform",
    "slice_gap_max_deviation_mm",
    "warnings",
)


@dataclass
class Scan:
    """A decoded image or volume with its geometry and non-identifying metadata."""

    array: np.ndarray  # (C, *spatial), float32 after modality LUT (HU for CT)
    affine: np.ndarray  # 4x4, spatial index -> RAS mm
    spacing: tuple[float, ...]  # mm, one per spatial axis
    format: str  # "dicom" | "nifti" | "image" | "array"
    source: str  # file or series folder it came from
    files: list[str] = field(default_factory=list)  # every file read (DICOM: one per instance)
    meta: dict = field(default_factory=dict)  # only keys from SAFE_META_KEYS

    def __post_init__(self) -> None:
        if self.array.ndim < 3:
            raise ValueError(f"Scan.array must be channel-first (C, *spatial); got shape {self.array.shape}")
        if len(self.spacing) != self.array.ndim - 1:
            raise ValueError(f"spacing {self.spacing} does not match spatial shape {self.spatial_shape}")
        self.affine = np.asarray(self.affine, dtype=np.float64)
        if self.affine.shape != (4, 4):
            raise ValueError(f"affine must be 4x4; got {self.affine.shape}")
        unknown = set(self.meta) - set(SAFE_META_KEYS)
        if unknown:
            raise ValueError(f"metadata keys not allowed in a Scan (may identify a patient): {sorted(unknown)}")

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.array.shape[1:])

    @property
    def spatial_dims(self) -> int:
        return self.array.ndim - 1

    @property
    def channels(self) -> int:
        return int(self.array.shape[0])

    @property
    def modality(self) -> str | None:
        return self.meta.get("modality")

    @property
    def name(self) -> str:
        return Path(self.source).name

    def corners_world(self) -> np.ndarray:
        """World (RAS mm) coordinates of the first and last voxel centres along each axis."""
        idx = np.array(np.meshgrid(*[[0, n - 1] for n in self.spatial_shape], indexing="ij")).reshape(
            self.spatial_dims, -1
        )
        if self.spatial_dims == 2:
            idx = np.vstack([idx, np.zeros(idx.shape[1])])
        homo = np.vstack([idx, np.ones(idx.shape[1])])
        return (self.affine @ homo)[:3].T
