"""DICOM Segmentation (highdicom) for a DICOM input series, referencing its instances.

Privacy choice: highdicom copies the whole Patient and Study modules of the source images into
the SEG (PatientName, PatientID, birth date, OtherPatientIDs, AccessionNumber, referring
physician, ...). By default we therefore hand highdicom a *whitelisted copy* of each source
header: only the UIDs and geometry the standard needs to reference and place the segmentation
(Study/Series/SOP/FrameOfReference UIDs, SOP class, orientation, positions, spacing, size, modality)
plus empty Type 2 patient/study attributes; a multi-frame source keeps only its frames' geometry
from the functional groups. Nothing identifying can be copied because it is not there; the result
is scrubbed again afterwards. ``keep_patient_ids=True`` (CLI
``--keep-patient-ids``) passes the original headers instead, for sites that want the SEG filed
under the patient in their PACS.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from medtl.data.dicom_header import DicomFrame, frames_of
from medtl.data.dicom_series import ORIENTATION_TOL
from medtl.errors import MedtlError
from medtl.fileio import atomic_write_bytes

# Copied from the source when present (needed to reference and place the SEG).
_KEEP = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID",
         "Modality", "Rows", "Columns", "PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient",
         "SliceThickness", "SpacingBetweenSlices", "SamplesPerPixel", "PhotometricInterpretation",
         "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "InstanceNumber", "NumberOfFrames")
# Type 2 attributes highdicom reads; emptied.
_BLANK = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID",
          "StudyDate", "StudyTime", "ReferringPhysicianName")
IDENTIFYING = _BLANK + ("OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames", "InstitutionName",
                        "InstitutionAddress", "InstitutionalDepartmentName", "PatientAddress",
                        "PatientTelephoneNumbers", "PatientMotherBirthName", "PatientBirthName",
                        "PerformingPhysicianName", "OperatorsName", "IssuerOfPatientID", "StationName",
                        "PatientAge", "PatientWeight", "PatientSize", "EthnicGroup")
# Functional groups a multi-frame source keeps (shared by all frames): sequence -> attributes.
_SHARED_GEOMETRY = {"PlaneOrientationSequence": ("ImageOrientationPatient",),
                    "PixelMeasuresSequence": ("PixelSpacing", "SliceThickness", "SpacingBetweenSlices")}


def _minimal(ds):
    from pydicom.dataset import Dataset

    out = Dataset()
    for keyword in _KEEP:
        if keyword in ds:
            setattr(out, keyword, ds.data_element(keyword).value)
    for keyword in _BLANK:
        setattr(out, keyword, "")
    return out


def _scrub(seg) -> None:
    for keyword in IDENTIFYING:
        if keyword in seg:
            if keyword.endswith("Sequence"):
                delattr(seg, keyword)
            else:
                setattr(seg, keyword, "")


def _n_frames(ds) -> int:
    return int(ds.get("NumberOfFrames", 1) or 1)


def _is_multiframe(ds) -> bool:
    return _n_frames(ds) > 1 or "PerFrameFunctionalGroupsSequence" in ds


def _source_frames(headers, files: list[str]) -> list[DicomFrame]:
    """Every source frame with its geometry, in source order; ``seg_unsupported`` for sources a
    SEG cannot reference frame by frame."""
    multi = [ds for ds in headers if _is_multiframe(ds)]
    if multi and len(headers) > 1:
        raise MedtlError(f"DICOM SEG needs one multi-frame file or single-frame files; the series has {len(headers)}"
                         " files, some multi-frame", path=files[0], code="seg_unsupported")
    if multi and len(multi[0].get("PerFrameFunctionalGroupsSequence") or []) != _n_frames(multi[0]):
        raise MedtlError("DICOM SEG is written for multi-frame files with per-frame positions "
                         "(PerFrameFunctionalGroupsSequence) only", path=files[0], code="seg_unsupported")
    frames = [frame for ds, file in zip(headers, files) for frame in frames_of(ds, str(file))]
    missing = next((f for f in frames if f.position is None or f.orientation is None or f.pixel_spacing is None),
                   None)
    if missing is not None:
        raise MedtlError("DICOM SEG needs ImagePositionPatient, ImageOrientationPatient and PixelSpacing for every "
                         f"frame; frame {missing.index + 1} lacks one", path=missing.file, code="seg_unsupported")
    if multi and (np.ptp([f.orientation for f in frames], axis=0).max() > ORIENTATION_TOL
                  or len({f.pixel_spacing for f in frames}) > 1):
        raise MedtlError("DICOM SEG needs one orientation and pixel spacing for all frames of a multi-frame file",
                         path=files[0], code="seg_unsupported")
    return frames


def _frames(frames: list[DicomFrame], mask: np.ndarray, scan_affine: np.ndarray) -> np.ndarray:
    """One (rows, cols) mask frame per source frame, matched by its position, not its order."""
    inv = np.linalg.inv(scan_affine)
    planes = []
    for frame in frames:
        lps = frame.position
        ijk = inv @ np.array([-lps[0], -lps[1], lps[2], 1.0])
        k = int(round(ijk[2])) if mask.ndim == 3 else 0
        if mask.ndim == 3 and not 0 <= k < mask.shape[2] or abs(ijk[0]) > 0.5 or abs(ijk[1]) > 0.5:
            raise MedtlError(f"source frame {frame.index + 1} does not lie on the scan grid", path=frame.file,
                             code="seg_failed")
        plane = mask[:, :, k] if mask.ndim == 3 else mask
        planes.append(plane.T)  # (cols, rows) -> (rows, cols)
    return np.stack(planes).astype(np.uint8)


def _geometry_groups(ds, out) -> None:
    """Set on ``out`` the frame geometry of multi-frame ``ds`` as highdicom reads it: orientation
    and pixel measures as shared groups (``_source_frames`` checked they are the same for every
    frame), each frame's position as its per-frame group; nothing else of the groups."""
    from pydicom.dataset import Dataset

    per_frame_src = ds.PerFrameFunctionalGroupsSequence
    shared_src = (ds.get("SharedFunctionalGroupsSequence") or [Dataset()])[0]
    shared = Dataset()
    for seq, keywords in _SHARED_GEOMETRY.items():
        src = shared_src.get(seq) or per_frame_src[0].get(seq)
        if src:
            item = Dataset()
            for keyword in keywords:
                if keyword in src[0]:
                    setattr(item, keyword, src[0].data_element(keyword).value)
            setattr(shared, seq, [item])
    per_frame = []
    for frame in per_frame_src:
        position = (frame.get("PlanePositionSequence") or shared_src.get("PlanePositionSequence"))[0]
        plane, item = Dataset(), Dataset()
        plane.ImagePositionPatient = position.ImagePositionPatient
        item.PlanePositionSequence = [plane]
        per_frame.append(item)
    out.SharedFunctionalGroupsSequence = [shared]
    out.PerFrameFunctionalGroupsSequence = per_frame


def _sources(headers, *, keep_patient_ids: bool) -> list:
    """What highdicom gets: whitelisted copies (or the original headers), multi-frame geometry normalised."""
    sources = headers if keep_patient_ids else [_minimal(ds) for ds in headers]
    for ds, source in zip(headers, sources):
        if _is_multiframe(ds):
            _geometry_groups(ds, source)
    return sources


def write_dicom_seg(path: str | Path, mask: np.ndarray, scan_affine: np.ndarray, files: list[str],
                    label_names: list[str], *, keep_patient_ids: bool = False, model_id: str = "") -> None:
    """Write a binary DICOM SEG (one segment per foreground label) for a single-frame series or
    one multi-frame file with per-frame positions."""
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    from medtl import __version__

    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    pixels = _frames(_source_frames(headers, files), mask, np.asarray(scan_affine, dtype=np.float64))
    sources = _sources(headers, keep_patient_ids=keep_patient_ids)
    algorithm = hd.AlgorithmIdentificationSequence(name="medtl", version=__version__,
                                                   family=codes.cid7162.ArtificialIntelligence)
    segments = [hd.seg.SegmentDescription(
        segment_number=i, segment_label=str(name)[:64], segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Tissue, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm) for i, name in enumerate(label_names) if i > 0]
    try:
        seg = hd.seg.Segmentation(
            source_images=sources, pixel_array=pixels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=segments, series_instance_uid=hd.UID(), series_number=900,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer="medtl", manufacturer_model_name="medtl score",
            software_versions=__version__, device_serial_number=(model_id or "none")[:16], omit_empty_frames=False,
        )
    except (ValueError, TypeError, AttributeError, KeyError) as exc:  # highdicom rejects the source's geometry
        raise MedtlError(f"highdicom could not build the SEG: {exc}", path=files[0], code="seg_failed") from exc
    if not keep_patient_ids:
        _scrub(seg)
    buf = io.BytesIO()
    seg.save_as(buf)
    atomic_write_bytes(path, buf.getvalue())
