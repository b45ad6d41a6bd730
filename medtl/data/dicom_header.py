"""Reading one DICOM file's header into a small, pixel-free record.

Discovery keeps only these records (not pydicom datasets) so that grouping thousands of files
stays memory-light; pixels are decoded later, one series at a time (``dicom_pixels.py``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from medtl.errors import ScanReadError

PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


@dataclass
class DicomFrame:
    """One 2D frame: a single-frame file or one frame of a multi-frame file."""

    file: str
    index: int  # frame index inside the file
    instance: int | None
    position: np.ndarray | None  # ImagePositionPatient (LPS mm)
    orientation: np.ndarray | None  # ImageOrientationPatient (row cosine, column cosine)
    pixel_spacing: tuple[float, float] | None  # (row spacing, column spacing) as in DICOM


@dataclass
class DicomHeader:
    path: str
    forced: bool  # read with force=True (file without the 128-byte preamble)
    sop_class_uid: str
    series_uid: str
    study_uid: str | None
    frame_of_reference_uid: str | None
    modality: str | None
    series_description: str | None
    body_part: str | None
    photometric: str
    rows: int
    cols: int
    samples: int
    transfer_syntax: str | None
    frames: list[DicomFrame] = field(default_factory=list)


def looks_like_dicom(path: str | Path) -> bool:
    """True for a Part 10 file (``DICM`` at byte 128) or a raw dataset starting with group 0002/0008."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    if head[128:132] == b"DICM":
        return True
    return _starts_with_group_tag(head)


def _starts_with_group_tag(head: bytes) -> bool:
    if len(head) < 8:
        return False
    for order in ("little", "big"):
        group, element = int.from_bytes(head[0:2], order), int.from_bytes(head[2:4], order)
        if group in (0x0002, 0x0008) and element < 0x0100:
            return True
    return False


def dcmread(path: str | Path, *, header_only: bool) -> tuple[Dataset, bool]:
    """``pydicom.dcmread`` with force=False; retried with force=True only when the file starts
    with DICOM group tags (a valid dataset missing its preamble). Returns (dataset, forced)."""
    with warnings.catch_warnings():  # pydicom warns on every odd value; errors are raised instead
        warnings.simplefilter("ignore")
        return _dcmread(path, header_only)


def _dcmread(path: str | Path, header_only: bool) -> tuple[Dataset, bool]:
    kwargs = {"defer_size": 1024} if header_only else {}
    try:
        return pydicom.dcmread(path, force=False, **kwargs), False
    except InvalidDicomError:
        with open(path, "rb") as fh:
            head = fh.read(8)
        if not _starts_with_group_tag(head):
            raise ScanReadError("not_dicom", "not a DICOM file (no 'DICM' marker, no DICOM tags)",
                                path=path) from None
        try:
            return pydicom.dcmread(path, force=True, **kwargs), True
        except Exception as exc:
            raise ScanReadError("not_dicom", f"DICOM header could not be parsed: {exc}", path=path) from None
    except ScanReadError:
        raise
    except OSError as exc:
        raise ScanReadError("not_found", f"cannot open file: {exc.strerror or exc}", path=path) from None
    except Exception as exc:  # pydicom raises many types on corrupt headers
        raise ScanReadError("not_dicom", f"DICOM header could not be parsed: {type(exc).__name__}: {exc}",
                            path=path) from None


def is_image_sop(uid: str) -> bool:
    name = pydicom.uid.UID(uid).name if uid else ""
    return "Image Storage" in name


def read_header(path: str | Path) -> DicomHeader:
    """Header record of one file; raises not_dicom / non_image_sop / no_pixel_data."""
    ds, forced = dcmread(path, header_only=True)
    return header_from_dataset(ds, str(path), forced)


def header_from_dataset(ds: Dataset, path: str, forced: bool) -> DicomHeader:
    """Header record of a dataset read from ``path``; every failure is a ScanReadError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _header(ds, path, forced)
    except ScanReadError:
        raise
    except Exception as exc:  # malformed values (e.g. a non-numeric IS) in a parsable file
        raise ScanReadError("not_dicom", f"invalid DICOM header value: {type(exc).__name__}: {exc}",
                            path=path) from None


def _header(ds: Dataset, path: str, forced: bool) -> DicomHeader:
    sop = str(ds.get("SOPClassUID", "") or "")
    has_pixels = any(k in ds for k in PIXEL_KEYWORDS)
    if not has_pixels:
        if is_image_sop(sop) or ("Rows" in ds and "Columns" in ds):
            raise ScanReadError("no_pixel_data", f"image object ({_sop_name(sop)}) without pixel data", path=path)
        if not sop and len(ds) == 0:
            raise ScanReadError("not_dicom", "empty DICOM dataset", path=path)
        raise ScanReadError("non_image_sop", f"not an image: {_sop_name(sop)} holds no pixel data", path=path)
    if "Rows" not in ds or "Columns" not in ds:
        raise ScanReadError("no_pixel_data", "pixel data without Rows/Columns", path=path)
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    header = DicomHeader(
        path=path,
        forced=forced,
        sop_class_uid=sop,
        series_uid=str(ds.get("SeriesInstanceUID", "") or f"no-series-uid:{path}"),
        study_uid=_str_or_none(ds.get("StudyInstanceUID")),
        frame_of_reference_uid=_str_or_none(ds.get("FrameOfReferenceUID")),
        modality=_str_or_none(ds.get("Modality")),
        series_description=_str_or_none(ds.get("SeriesDescription")),
        body_part=_str_or_none(ds.get("BodyPartExamined")),
        photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2") or "MONOCHROME2").strip(),
        rows=int(ds.Rows),
        cols=int(ds.Columns),
        samples=int(ds.get("SamplesPerPixel", 1) or 1),
        transfer_syntax=str(ts) if ts else None,
    )
    header.frames = frames_of(ds, path)
    return header


def frames_of(ds: Dataset, path: str) -> list[DicomFrame]:
    """Per-frame geometry: functional groups (per-frame, else shared) for enhanced objects,
    the top-level tags otherwise (plain multi-frame: frames step along the normal by
    SpacingBetweenSlices)."""
    n = int(ds.get("NumberOfFrames", 1) or 1)
    instance = _int_or_none(ds.get("InstanceNumber"))
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]
    if per_frame is not None and len(per_frame) == n:
        frames = []
        for i, item in enumerate(per_frame):
            pos = _group_value(item, shared, "PlanePositionSequence", "ImagePositionPatient")
            ori = _group_value(item, shared, "PlaneOrientationSequence", "ImageOrientationPatient")
            ps = _group_value(item, shared, "PixelMeasuresSequence", "PixelSpacing")
            frames.append(DicomFrame(path, i, instance, _vec(pos, 3), _vec(ori, 6), _spacing(ps)))
        return frames
    pos, ori = _vec(ds.get("ImagePositionPatient"), 3), _vec(ds.get("ImageOrientationPatient"), 6)
    ps = _spacing(ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing"))
    if n == 1:
        return [DicomFrame(path, 0, instance, pos, ori, ps)]
    offsets = _vec(ds.get("GridFrameOffsetVector"), n)  # RT Dose: offsets along the normal
    if offsets is None:
        step = ds.get("SpacingBetweenSlices") or ds.get("SliceThickness")
        offsets = np.arange(n) * float(step) if _vec([step], 1) is not None else None
    frames = []
    for i in range(n):
        frame_pos = None
        if pos is not None and ori is not None and offsets is not None:
            frame_pos = pos + offsets[i] * np.cross(ori[:3], ori[3:])
        frames.append(DicomFrame(path, i, instance, frame_pos, ori, ps))
    return frames


def _group_value(item: Dataset, shared: Dataset | None, seq: str, keyword: str):
    for source in (item, shared):
        if source is not None and source.get(seq):
            value = source.get(seq)[0].get(keyword)
            if value is not None:
                return value
    return None


def _vec(value, n: int) -> np.ndarray | None:
    if value is None:
        return None
    try:
        arr = np.asarray([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if arr.shape == (n,) and np.all(np.isfinite(arr)) else None


def _spacing(value) -> tuple[float, float] | None:
    arr = _vec(value, 2)
    if arr is None or np.any(arr <= 0):
        return None
    return float(arr[0]), float(arr[1])


def _str_or_none(value) -> str | None:
    return str(value).strip() or None if value is not None else None


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value is not None and str(value).strip() != "" else None
    except (TypeError, ValueError):
        return None


def _sop_name(uid: str) -> str:
    if not uid:
        return "object without SOPClassUID"
    name = pydicom.uid.UID(uid).name
    return f"{name} ({uid})" if name != uid else uid
