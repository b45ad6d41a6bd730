"""Deterministic synthetic DICOM and NIfTI writers (tests, sample data, benchmarks).

The DICOM files carry realistic geometry tags (ImagePositionPatient, ImageOrientationPatient,
PixelSpacing, SliceThickness, rescale slope/intercept) so the readers can be checked against
hand-computed expectations. Options reproduce what real archives do to readers: files stored in
reverse order, shuffled InstanceNumbers, missing slices, duplicated positions, MONOCHROME1, RGB,
multi-frame objects and compressed transfer syntaxes (encoded by pydicom's own encoders).

Volumes are given in medtl's axis order (``scan.py``): ``volume[i, j, k]`` is column ``i``, row
``j`` of slice ``k``; RGB volumes are channel-first ``(3, cols, rows, slices)`` uint8.
``spacing`` is per volume axis: (column spacing = PixelSpacing[1], row spacing = PixelSpacing[0],
slice spacing). Everything is deterministic: UIDs derive from the arguments, not from a clock.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

from medtl.fileio import atomic_write, atomic_write_bytes

# SOP classes per modality: (single-frame, enhanced multi-frame)
_SOP_CLASSES = {
    "CT": ("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2.1"),
    "MR": ("1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.4.1"),
    "PT": ("1.2.840.10008.5.1.4.1.1.128", "1.2.840.10008.5.1.4.1.1.130"),
    "US": ("1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.6.1"),
}
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
_UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


def _uid(*parts: object) -> UID:
    return generate_uid(entropy_srcs=[str(p) for p in parts])


def _file_meta(ds: Dataset, transfer_syntax: str) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    # compressed syntaxes are applied by _save (pydicom compresses only uncompressed datasets)
    meta.TransferSyntaxUID = UID(transfer_syntax) if transfer_syntax in _UNCOMPRESSED else ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta


def _common_tags(ds: Dataset, *, modality: str, study_uid: str, series_uid: str, frame_uid: str,
                 patient_name: str, patient_id: str, series_number: int) -> None:
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.StudyDate = "20240101"
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.Modality = modality
    ds.SeriesNumber = series_number
    ds.SeriesDescription = f"synthetic {modality}"
    ds.Manufacturer = "medtl synthetic"
    ds.PositionReferenceIndicator = ""


def _pixel_tags(ds: Dataset, frame: np.ndarray, photometric: str) -> None:
    """``frame``: (rows, cols) or (rows, cols, 3) / (frames, rows, cols[, 3]) in DICOM order."""
    rgb = photometric == "RGB"
    ds.SamplesPerPixel = 3 if rgb else 1
    ds.PhotometricInterpretation = photometric
    if rgb:
        ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = int(frame.shape[-3 if rgb else -2]), int(frame.shape[-2 if rgb else -1])
    bits = 8 if frame.dtype == np.uint8 else 16
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if np.issubdtype(frame.dtype, np.signedinteger) else 0
    ds.PixelData = np.ascontiguousarray(frame).tobytes()


def _save(ds: Dataset, path: Path, transfer_syntax: str) -> Path:
    if transfer_syntax not in _UNCOMPRESSED:
        ds.compress(transfer_syntax, generate_instance_uid=False)
    with atomic_write(path, "wb") as fh:
        ds.save_as(fh, enforce_file_format=True)
    return path


def _check_volume(volume: np.ndarray, photometric: str) -> np.ndarray:
    volume = np.asarray(volume)
    if photometric == "RGB":
        if volume.ndim != 4 or volume.shape[0] != 3:
            raise ValueError(f"RGB volume must be (3, cols, rows, slices); got {volume.shape}")
        return volume.astype(np.uint8)
    if volume.ndim != 3:
        raise ValueError(f"volume must be (cols, rows, slices); got {volume.shape}")
    if volume.dtype not in (np.int16, np.uint16, np.uint8):
        volume = volume.astype(np.int16)
    return volume


def _slice_frame(volume: np.ndarray, k: int, photometric: str) -> np.ndarray:
    """Slice ``k`` in DICOM pixel order: (rows, cols) or (rows, cols, 3)."""
    if photometric == "RGB":
        return np.transpose(volume[:, :, :, k], (2, 1, 0))
    return volume[:, :, k].T


def write_dicom_series(
    folder: str | Path,
    volume: np.ndarray,
    *,
    spacing: Sequence[float] = (0.8, 0.8, 2.5),
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    orientation: Sequence[float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    modality: str = "CT",
    slope: float | None = 1.0,
    intercept: float | None = -1024.0,
    series_uid: str | None = None,
    study_uid: str | None = None,
    patient_name: str = "ANON",
    patient_id: str = "ANON",
    reverse_files: bool = False,
    photometric: str = "MONOCHROME2",
    transfer_syntax: str = ExplicitVRLittleEndian,
    skip_slices: Sequence[int] = (),
    duplicate_slice: int | None = None,
    extra_tags: dict | None = None,
    shuffle_instances: bool = False,
    multiframe: str | None = None,
    series_number: int = 1,
    seed: int = 0,
) -> list[Path]:
    """Write ``volume`` as a DICOM series into ``folder``; return the files written (sorted).

    ``origin`` is the LPS position of voxel (0, 0, 0); ``orientation`` the ImageOrientationPatient
    (row cosine, column cosine); slice ``k`` lies at ``origin + k * spacing[2] * normal`` with
    ``normal = row x col``. ``skip_slices`` leaves those slices out (a gap); ``duplicate_slice``
    writes slice ``k`` twice (same position, another SOPInstanceUID); ``reverse_files`` names the
    files (or orders the frames of a multi-frame object) last-slice-first; ``shuffle_instances`` permutes InstanceNumber (seeded). ``multiframe``:
    None (one file per slice), ``"enhanced"`` (one Enhanced CT/MR object with per-frame functional
    groups) or ``"plain"`` (one multi-frame object with ImagePositionPatient of the first frame and
    SpacingBetweenSlices, no functional groups). ``transfer_syntax`` may be any syntax pydicom can
    encode (RLE Lossless, JPEG-LS Lossless, JPEG 2000 Lossless with the installed plugins; OpenJPEG
    needs frames of at least ~32x32 pixels).
    ``extra_tags`` (keyword -> value) are set on every dataset last, e.g. identifying canaries.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    volume = _check_volume(volume, photometric)
    n_slices = volume.shape[-1]
    row_cos = np.asarray(orientation[:3], dtype=np.float64)
    col_cos = np.asarray(orientation[3:], dtype=np.float64)
    normal = np.cross(row_cos, col_cos)
    origin = np.asarray(origin, dtype=np.float64)
    digest = hashlib.sha256(volume.tobytes()).hexdigest()[:16]
    key = (digest, tuple(spacing), tuple(origin), tuple(orientation), modality, series_number, seed)
    study_uid = study_uid or _uid("study", patient_id, seed)
    series_uid = series_uid or _uid("series", *key)
    frame_uid = _uid("frame", study_uid, series_uid)
    sop_single, sop_enhanced = _SOP_CLASSES.get(modality, (SECONDARY_CAPTURE, SECONDARY_CAPTURE))
    common = dict(modality=modality, study_uid=study_uid, series_uid=series_uid, frame_uid=frame_uid,
                  patient_name=patient_name, patient_id=patient_id, series_number=series_number)
    prefix = f"S{series_uid.split('.')[-1][-6:]}"

    slices = [k for k in range(n_slices) if k not in set(skip_slices)]
    if duplicate_slice is not None:
        slices.insert(slices.index(duplicate_slice) + 1, duplicate_slice)
    positions = [origin + k * float(spacing[2]) * normal for k in slices]
    fmt = lambda v: [float(f"{x:.6f}") for x in v]  # noqa: E731 - DS strings stay <= 16 chars

    if multiframe is not None:
        if reverse_files:  # frames stored last slice first
            slices, positions = slices[::-1], positions[::-1]
        ds = Dataset()
        _common_tags(ds, **common)
        ds.SOPClassUID = sop_enhanced if multiframe == "enhanced" else sop_single
        ds.SOPInstanceUID = _uid("sop", series_uid, "mf")
        ds.InstanceNumber = 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        frames = np.stack([_slice_frame(volume, k, photometric) for k in slices])
        ds.NumberOfFrames = len(slices)
        _pixel_tags(ds, frames, photometric)
        if multiframe == "enhanced":
            _enhanced_groups(ds, positions, fmt(orientation), spacing, slope, intercept, fmt)
        elif multiframe == "plain":
            ds.ImagePositionPatient = fmt(positions[0])
            ds.ImageOrientationPatient = fmt(orientation)
            ds.PixelSpacing = [float(spacing[1]), float(spacing[0])]
            ds.SliceThickness = float(spacing[2])
            ds.SpacingBetweenSlices = float(spacing[2])
            if slope is not None and intercept is not None:
                ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        else:
            raise ValueError(f"multiframe must be None, 'enhanced' or 'plain'; got {multiframe!r}")
        for keyword, value in (extra_tags or {}).items():
            setattr(ds, keyword, value)
        _file_meta(ds, transfer_syntax)
        return [_save(ds, folder / f"{prefix}_mf.dcm", transfer_syntax)]

    numbers = list(range(1, len(slices) + 1))
    if shuffle_instances:
        numbers = list(np.random.default_rng(seed).permutation(numbers) + 0)
    order = list(range(len(slices)))[::-1] if reverse_files else list(range(len(slices)))
    paths = []
    for file_index, i in enumerate(order):
        k = slices[i]
        ds = Dataset()
        _common_tags(ds, **common)
        ds.SOPClassUID = sop_single
        ds.SOPInstanceUID = _uid("sop", series_uid, i)
        ds.InstanceNumber = int(numbers[i])
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = fmt(positions[i])
        ds.ImageOrientationPatient = fmt(orientation)
        ds.PixelSpacing = [float(spacing[1]), float(spacing[0])]
        ds.SliceThickness = float(spacing[2])
        ds.SliceLocation = float(f"{positions[i] @ normal:.6f}")
        if slope is not None and intercept is not None:
            ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
            ds.RescaleType = "HU" if modality == "CT" else "US"
        _pixel_tags(ds, _slice_frame(volume, k, photometric), photometric)
        for keyword, value in (extra_tags or {}).items():
            setattr(ds, keyword, value)
        _file_meta(ds, transfer_syntax)
        paths.append(_save(ds, folder / f"{prefix}_{file_index:04d}.dcm", transfer_syntax))
    return sorted(paths)


def _enhanced_groups(ds: Dataset, positions, orientation, spacing, slope, intercept, fmt) -> None:
    """Shared groups: orientation, pixel measures, rescale; per-frame groups: plane position."""
    shared = Dataset()
    orient = Dataset()
    orient.ImageOrientationPatient = orientation
    shared.PlaneOrientationSequence = DicomSequence([orient])
    measures = Dataset()
    measures.PixelSpacing = [float(spacing[1]), float(spacing[0])]
    measures.SliceThickness = float(spacing[2])
    measures.SpacingBetweenSlices = float(spacing[2])
    shared.PixelMeasuresSequence = DicomSequence([measures])
    if slope is not None and intercept is not None:
        transform = Dataset()
        transform.RescaleSlope, transform.RescaleIntercept = slope, intercept
        transform.RescaleType = "HU" if ds.Modality == "CT" else "US"
        shared.PixelValueTransformationSequence = DicomSequence([transform])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    per_frame = []
    for pos in positions:
        item, plane = Dataset(), Dataset()
        plane.ImagePositionPatient = fmt(pos)
        item.PlanePositionSequence = DicomSequence([plane])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)


def write_dicom_non_image(path: str | Path, *, kind: str = "sr", seed: int = 0) -> Path:
    """Write a DICOM object that is not a readable image, for error-path tests.

    ``kind="sr"``: a Basic Text SR (non-image SOP class, no pixels); ``kind="no_pixels"``: a CT
    Image Storage object with all image tags except PixelData.
    """
    ds = Dataset()
    _common_tags(ds, modality="SR" if kind == "sr" else "CT", study_uid=_uid("study", seed),
                 series_uid=_uid("series", kind, seed), frame_uid=_uid("frame", seed),
                 patient_name="ANON", patient_id="ANON", series_number=99)
    ds.SOPInstanceUID = _uid("sop", kind, seed)
    if kind == "sr":
        ds.SOPClassUID = BASIC_TEXT_SR
        ds.ValueType = "CONTAINER"
        ds.ContinuityOfContent = "SEPARATE"
        ds.CompletionFlag = "COMPLETE"
        ds.VerificationFlag = "UNVERIFIED"
    elif kind == "no_pixels":
        ds.SOPClassUID = _SOP_CLASSES["CT"][0]
        ds.Rows, ds.Columns = 8, 8
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.ImagePositionPatient = [0.0, 0.0, 0.0]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [1.0, 1.0]
    else:
        raise ValueError(f"kind must be 'sr' or 'no_pixels'; got {kind!r}")
    _file_meta(ds, ExplicitVRLittleEndian)
    return _save(ds, Path(path), ExplicitVRLittleEndian)


def write_nifti(path: str | Path, array: np.ndarray, affine: np.ndarray) -> Path:
    """Write ``array`` (spatial axes first, optional 4th axis) with ``affine`` (index -> RAS mm).

    ``.nii.gz`` output is byte-for-byte reproducible (gzip header without a timestamp).
    """
    import nibabel as nib

    path = Path(path)
    img = nib.Nifti1Image(np.asarray(array), np.asarray(affine, dtype=np.float64))
    img.set_qform(np.asarray(affine, dtype=np.float64), code=1)
    img.set_sform(np.asarray(affine, dtype=np.float64), code=1)
    data = img.to_bytes()
    if path.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    atomic_write_bytes(path, data)
    return path
