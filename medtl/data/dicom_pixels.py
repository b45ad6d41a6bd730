"""Decoding one DICOM file's frames into calibrated float32 values.

pydicom decodes every transfer syntax it has a plugin for (pylibjpeg: JPEG baseline/extended/
lossless, JPEG-LS, JPEG 2000, RLE; YBR is converted to RGB); then the Modality LUT (rescale
slope/intercept, or a LUT sequence) gives physical values (HU for CT), MONOCHROME1 is inverted so
that high values are bright, and PALETTE COLOR becomes RGB.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut

from medtl.errors import ScanReadError


def decode_dataset(ds: Dataset, path: str | Path) -> tuple[np.ndarray, bool]:
    """All frames of ``ds`` (read with its pixel data) as ``(frames, rows, cols, samples)``
    float32, and whether a modality LUT / rescale was applied."""
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = ds.pixel_array
    except Exception as exc:  # missing plugin, corrupt or truncated stream: all "cannot decode"
        name = syntax.name if syntax is not None else "unknown transfer syntax"
        raise ScanReadError("undecodable_transfer_syntax", f"pixel data ({name}) could not be decoded: "
                            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                            path=path) from None
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if n_frames == 1:
        arr = arr[None]
    if photometric == "PALETTE COLOR" and samples == 1:
        try:
            arr = apply_color_lut(arr, ds)
        except Exception as exc:
            raise ScanReadError("undecodable_transfer_syntax", f"palette colour lookup failed: {exc}",
                                path=path) from None
        samples = 3
    if arr.ndim == 3:
        arr = arr[..., None]
    expected = (n_frames, int(ds.Rows), int(ds.Columns), samples)
    if arr.shape != expected:
        raise ScanReadError("undecodable_transfer_syntax", f"decoded pixel array has shape {arr.shape}, "
                            f"header says {expected}", path=path)
    rescaled = False
    if samples == 1:
        arr, rescaled = _modality_lut(arr, ds)
        if photometric == "MONOCHROME1":
            arr = _invert(arr, ds)
    return np.ascontiguousarray(arr, dtype=np.float32), rescaled


def _modality_lut(arr: np.ndarray, ds: Dataset) -> tuple[np.ndarray, bool]:
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]
    if per_frame is not None and len(per_frame) == arr.shape[0]:
        # Enhanced objects keep rescale in functional groups, which apply_modality_lut does not read
        out = np.empty(arr.shape, dtype=np.float64)
        rescaled = False
        for i, item in enumerate(per_frame):
            view = _rescale_view(item, shared, ds)
            out[i] = apply_modality_lut(arr[i], view)
            rescaled |= "RescaleSlope" in view or "ModalityLUTSequence" in view
        return out, rescaled
    rescaled = ("RescaleSlope" in ds and "RescaleIntercept" in ds) or bool(ds.get("ModalityLUTSequence"))
    return apply_modality_lut(arr, ds), rescaled


def _rescale_view(item: Dataset, shared: Dataset | None, ds: Dataset) -> Dataset:
    view = Dataset()
    for source in (item, shared):
        seq = source.get("PixelValueTransformationSequence") if source is not None else None
        if seq and "RescaleSlope" in seq[0] and "RescaleIntercept" in seq[0]:
            view.RescaleSlope, view.RescaleIntercept = seq[0].RescaleSlope, seq[0].RescaleIntercept
            return view
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        view.RescaleSlope, view.RescaleIntercept = ds.RescaleSlope, ds.RescaleIntercept
    return view


def _invert(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    """MONOCHROME1 -> MONOCHROME2: mirror within the range the stored bits can hold, mapped
    through the same Modality LUT, so inverted series stay linear and comparable slice to slice.
    (pydicom has no MONOCHROME1 helper for the modality-LUT output; hand-written.)"""
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)) or 16)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    ends = apply_modality_lut(np.array([lo, hi], dtype=np.int64), ds).astype(np.float64)
    return float(ends.min() + ends.max()) - arr.astype(np.float64)
