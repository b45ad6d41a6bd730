"""``read_scan``: one entry point for every scan format.

The format is decided by name for NIfTI and raster images, by content for DICOM (``DICM``
marker or leading DICOM tags, whatever the file is called); a folder is a DICOM series. The
NIfTI and raster readers are imported lazily so reading DICOM never pays for them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medtl.data.scan import Scan
from medtl.errors import ScanReadError

NIFTI_SUFFIXES = (".nii", ".nii.gz")
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp")
DICOM_SUFFIXES = ("", ".dcm", ".dicom", ".ima", ".img")


def detect_format(path: str | Path) -> str:
    """"nifti", "image", "dicom" or "unknown" for a file."""
    from medtl.data.dicom_header import looks_like_dicom

    name = Path(path).name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(RASTER_SUFFIXES):
        return "image"
    if looks_like_dicom(path):
        return "dicom"
    return "unknown"


def unknown_format_error(path: str | Path) -> ScanReadError:
    suffix = Path(path).suffix.lower()
    if suffix in DICOM_SUFFIXES or suffix[1:].isdigit():  # UID-named files end in digits
        return ScanReadError("not_dicom", "not a DICOM file (no 'DICM' marker, no DICOM tags)", path=path)
    return ScanReadError("unsupported_format", f"unsupported file type '{suffix}' (not DICOM, NIfTI or an "
                         "image)", path=path)


def read_scan(path: str | Path, *, canonical: bool = False, allow_nonuniform: bool = False) -> Scan:
    """Read a file or a DICOM series folder (holding exactly one series). Raises ScanReadError.

    ``canonical=True`` reorients 3D scans to RAS (nearest axis permutation/flip, no resampling),
    updating affine and spacing. ``allow_nonuniform`` lets a DICOM series with an uneven slice
    gap through (flagged in ``meta``) instead of raising ``inconsistent_geometry``.
    """
    path = Path(path)
    if not path.exists():
        raise ScanReadError("not_found", "no such file or folder", path=path)
    if path.is_dir():
        from medtl.data.dicom import read_dicom

        return _canonical(read_dicom(path, allow_nonuniform=allow_nonuniform), canonical)
    fmt = detect_format(path)
    if fmt == "nifti":
        from medtl.data.nifti import read_nifti

        return read_nifti(path, canonical=canonical)
    if fmt == "image":
        from medtl.data.raster import read_raster

        return read_raster(path)
    if fmt == "dicom":
        from medtl.data.dicom import read_dicom

        return _canonical(read_dicom(path, allow_nonuniform=allow_nonuniform), canonical)
    raise unknown_format_error(path)


def _canonical(scan: Scan, canonical: bool) -> Scan:
    return to_canonical(scan) if canonical else scan


def to_canonical(scan: Scan) -> Scan:
    """Reorient a 3D scan to the closest RAS axis order (nibabel's as_closest_canonical logic
    applied to a channel-first array); 2D scans are returned unchanged."""
    from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation

    if scan.spatial_dims != 3:
        return scan
    ornt = io_orientation(scan.affine)
    if np.array_equal(ornt, [[0, 1], [1, 1], [2, 1]]):
        return scan
    spatial_last = np.moveaxis(scan.array, 0, -1)
    array = np.ascontiguousarray(np.moveaxis(apply_orientation(spatial_last, ornt), -1, 0))
    affine = scan.affine @ inv_ornt_aff(ornt, scan.spatial_shape)
    spacing = tuple(float(s) for s in np.linalg.norm(affine[:3, :3], axis=0))
    return Scan(array=array, affine=affine, spacing=spacing, format=scan.format, source=scan.source,
                files=scan.files, meta=scan.meta)
