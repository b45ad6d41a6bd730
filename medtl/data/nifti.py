"""NIfTI reader (``.nii`` / ``.nii.gz``) returning a :class:`~medtl.data.scan.Scan`.

NIfTI voxel axes already follow the Scan convention (i, j, k) and the file's affine maps them to
RAS millimetres, so the array is used as stored; a 4th axis (time, echoes, modalities) becomes
the channel axis. ``canonical=True`` reorients to RAS with ``nibabel.as_closest_canonical``.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from medtl.data.scan import Scan
from medtl.errors import ScanReadError

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti(path: str | Path) -> bool:
    return str(path).lower().endswith(NIFTI_SUFFIXES)


def _load(path: Path):
    import nibabel as nib

    if not path.is_file():
        raise ScanReadError("not_found", "file not found", path=path)
    try:
        return nib.load(str(path))
    except (nib.filebasedimages.ImageFileError, OSError, EOFError, ValueError, zlib.error) as exc:
        raise ScanReadError("unreadable_nifti", f"not a readable NIfTI file ({exc})", path=path) from exc


def nifti_header_info(path: str | Path) -> tuple[int, int]:
    """``(spatial_dims, channels)`` from the header only (no voxel data is decoded)."""
    shape = _load(Path(path)).shape
    spatial = 2 if len(shape) == 2 else 3
    channels = int(np.prod(shape[3:])) if len(shape) > 3 else 1
    return spatial, channels


def read_nifti(path: str | Path, canonical: bool = False) -> Scan:
    """Read a 2D/3D/4D NIfTI image; the 4th (and any further) axis becomes channels."""
    import nibabel as nib

    path = Path(path)
    img = _load(path)
    try:
        if canonical and len(img.shape) >= 3:
            img = nib.as_closest_canonical(img)
        data = np.asarray(img.get_fdata(dtype=np.float32))
        affine = np.asarray(img.affine, dtype=np.float64)
    except (OSError, EOFError, ValueError, zlib.error, MemoryError) as exc:
        raise ScanReadError("unreadable_nifti", f"NIfTI voxel data could not be decoded ({exc})", path=path) from exc
    if data.ndim < 2 or data.ndim > 7 or data.size == 0:
        raise ScanReadError("unreadable_nifti", f"unsupported NIfTI shape {data.shape}", path=path)
    if data.ndim == 2:
        array = data[None]
    else:
        array = np.moveaxis(data.reshape(*data.shape[:3], -1), -1, 0)
    if not np.all(np.isfinite(affine)):
        raise ScanReadError("unreadable_nifti", "affine has non-finite values", path=path)
    spacing = tuple(float(v) for v in nib.affines.voxel_sizes(affine)[: array.ndim - 1])
    return Scan(
        array=np.ascontiguousarray(array, dtype=np.float32),
        affine=affine,
        spacing=spacing,
        format="nifti",
        source=str(path),
        files=[str(path)],
    )
