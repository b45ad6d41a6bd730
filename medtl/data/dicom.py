"""DICOM scans: single files, multi-frame files and series folders -> :class:`Scan`.

Files are grouped by SeriesInstanceUID (never one mixed stack), headers are checked for a
consistent image size, ``dicom_series.series_geometry`` orders and checks the stack, then each
file is read once and decoded (``dicom_pixels.decode_dataset``) into a ``(C, cols, rows, slices)``
float32 array. A series of one single-frame image is a 2D scan.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from medtl.data.dicom_header import DicomHeader, dcmread, header_from_dataset, looks_like_dicom
from medtl.data.dicom_pixels import decode_dataset
from medtl.data.dicom_series import series_geometry
from medtl.data.scan import Scan
from medtl.errors import ScanReadError


def group_series(headers: list[DicomHeader]) -> dict[str, list[DicomHeader]]:
    """SeriesInstanceUID -> headers (sorted by path), in order of first appearance."""
    groups: dict[str, list[DicomHeader]] = defaultdict(list)
    for header in headers:
        groups[header.series_uid].append(header)
    return {uid: sorted(hs, key=lambda h: h.path) for uid, hs in groups.items()}


def load_file(path: str | Path) -> tuple[DicomHeader, Dataset]:
    """Read one file once (pixel bytes kept encoded): its header record and its dataset."""
    ds, forced = dcmread(path, header_only=False)
    return header_from_dataset(ds, str(path), forced), ds


def read_dicom(path: str | Path, *, allow_nonuniform: bool = False) -> Scan:
    """A DICOM file, or a folder (searched recursively) holding exactly one image series."""
    path = Path(path)
    if not path.exists():
        raise ScanReadError("not_found", "no such file or folder", path=path)
    if path.is_file():
        return read_dicom_files([path], source=path, allow_nonuniform=allow_nonuniform)
    loaded: dict[str, tuple[DicomHeader, Dataset]] = {}
    errors = []
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        if not looks_like_dicom(file):
            continue
        try:
            header, ds = load_file(file)
        except ScanReadError as exc:
            errors.append(exc)
            continue
        loaded[header.path] = (header, ds)
    groups = group_series([h for h, _ in loaded.values()])
    if not groups:
        if errors:
            raise errors[0]
        raise ScanReadError("not_dicom", "folder holds no DICOM image files", path=path)
    if len(groups) > 1:
        raise ScanReadError("inconsistent_geometry", f"folder holds {len(groups)} DICOM series "
                            f"({', '.join(groups)}); read them one at a time (medtl.data.discover_scans)",
                            path=path)
    (series,) = groups.values()
    return _assemble([loaded[h.path] for h in series], source=path, allow_nonuniform=allow_nonuniform)


def read_dicom_files(files: list[str | Path], *, source: str | Path | None = None,
                     allow_nonuniform: bool = False) -> Scan:
    """Exactly these files, which must form one series."""
    if not files:
        raise ScanReadError("not_found", "no DICOM files given", path=source)
    loaded = [load_file(f) for f in files]
    uids = {h.series_uid for h, _ in loaded}
    if len(uids) > 1:
        raise ScanReadError("inconsistent_geometry", f"files belong to {len(uids)} different series",
                            path=source or files[0])
    loaded.sort(key=lambda pair: pair[0].path)
    return _assemble(loaded, source=source or files[0], allow_nonuniform=allow_nonuniform)


def _assemble(loaded: list[tuple[DicomHeader, Dataset]], *, source, allow_nonuniform: bool) -> Scan:
    source = str(source)
    headers = [h for h, _ in loaded]
    sizes = {(h.rows, h.cols, h.samples) for h in headers}
    if len(sizes) > 1:
        raise ScanReadError("inconsistent_geometry", f"mixed image sizes (rows, cols, samples) in one series: "
                            f"{sorted(sizes)}; medtl inspect lists its consistent parts", path=source)
    rows, cols, _ = sizes.pop()
    frames = [f for h in headers for f in h.frames]
    geo = series_geometry(frames, source=source, allow_nonuniform=allow_nonuniform)
    slot = {(frames[i].file, frames[i].index): k for k, i in enumerate(geo.order)}
    # filled slice by slice in DICOM memory order (fast), returned as the transposed view
    # (C, cols, rows, slices): Fortran-contiguous, like nibabel's arrays
    stack: np.ndarray | None = None
    rescaled = False
    for header, ds in loaded:
        pixels, applied = decode_dataset(ds, header.path)
        rescaled |= applied
        if stack is None:
            stack = np.empty((len(frames), rows, cols, pixels.shape[-1]), dtype=np.float32)
        if pixels.shape[-1] != stack.shape[-1]:
            raise ScanReadError("inconsistent_geometry", "mixed samples per pixel in one series", path=header.path)
        for index in range(pixels.shape[0]):
            stack[slot[(header.path, index)]] = pixels[index]
    out = stack.transpose(3, 2, 1, 0)
    if geo.spatial_dims == 2:
        out = out[..., 0]
    return Scan(array=out, affine=geo.affine, spacing=geo.spacing, format="dicom", source=source,
                files=[h.path for h in headers], meta=_meta(headers[0], out.shape[0], rescaled, geo.meta))


def _meta(h: DicomHeader, channels: int, rescaled: bool, geometry_meta: dict) -> dict:
    meta = {
        "modality": h.modality,
        "photometric_interpretation": "RGB" if channels == 3 else h.photometric,
        "series_instance_uid": h.series_uid,
        "study_instance_uid": h.study_uid,
        "frame_of_reference_uid": h.frame_of_reference_uid,
        "sop_class_uid": h.sop_class_uid,
        "series_description": h.series_description,
        "body_part": h.body_part,
        "rescale_applied": rescaled,
    }
    meta.update(geometry_meta)
    return {k: v for k, v in meta.items() if v is not None}
