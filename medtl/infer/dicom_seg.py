"""DICOM Segmentation (highdicom) for a DICOM input series, referencing its instances.

Privacy choice: highdicom copies the whole Patient and Study modules of the source images into
the SEG (PatientName, PatientID, birth date, OtherPatientIDs, AccessionNumber, referring
physician, ...). By default we therefore hand highdicom a *whitelisted copy* of each source
header: only the UIDs and geometry the standard needs to reference and place the segmentation
(Study/Series/SOP/FrameOfReference UIDs, SOP class, orientation, positions, spacing, size, modality)
plus empty Type 2 patient/study attributes. Nothing identifying can be copied because it is not
there; the result is scrubbed again afterwards. ``keep_patient_ids=True`` (CLI
``--keep-patient-ids``) passes the original headers instead, for sites that want the SEG filed
under the patient in their PACS.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

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


def _frames(headers, mask: np.ndarray, scan_affine: np.ndarray) -> np.ndarray:
    """One (rows, cols) frame per source instance, matched by its position, not its order."""
    inv = np.linalg.inv(scan_affine)
    frames = []
    for ds in headers:
        lps = np.asarray([float(v) for v in ds.ImagePositionPatient])
        ijk = inv @ np.array([-lps[0], -lps[1], lps[2], 1.0])
        k = int(round(ijk[2])) if mask.ndim == 3 else 0
        if mask.ndim == 3 and not 0 <= k < mask.shape[2] or abs(ijk[0]) > 0.5 or abs(ijk[1]) > 0.5:
            raise MedtlError("a source slice does not lie on the scan grid", path=ds.filename, code="seg_failed")
        plane = mask[:, :, k] if mask.ndim == 3 else mask
        frames.append(plane.T)  # (cols, rows) -> (rows, cols)
    return np.stack(frames).astype(np.uint8)


def write_dicom_seg(path: str | Path, mask: np.ndarray, scan_affine: np.ndarray, files: list[str],
                    label_names: list[str], *, keep_patient_ids: bool = False, model_id: str = "") -> None:
    """Write a binary DICOM SEG (one segment per foreground label) for a single-frame series."""
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    from medtl import __version__

    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    if any(int(ds.get("NumberOfFrames", 1) or 1) > 1 for ds in headers) or "ImagePositionPatient" not in headers[0]:
        raise MedtlError("DICOM SEG is written for single-frame series with positions only", path=files[0],
                         code="seg_unsupported")
    pixels = _frames(headers, mask, np.asarray(scan_affine, dtype=np.float64))
    sources = headers if keep_patient_ids else [_minimal(ds) for ds in headers]
    algorithm = hd.AlgorithmIdentificationSequence(name="medtl", version=__version__,
                                                   family=codes.cid7162.ArtificialIntelligence)
    segments = [hd.seg.SegmentDescription(
        segment_number=i, segment_label=str(name)[:64], segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Tissue, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm) for i, name in enumerate(label_names) if i > 0]
    uid_root = hd.UID()
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=pixels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segments, series_instance_uid=uid_root, series_number=900,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="medtl", manufacturer_model_name="medtl score",
        software_versions=__version__, device_serial_number=(model_id or "none")[:16], omit_empty_frames=False,
    )
    if not keep_patient_ids:
        _scrub(seg)
    buf = io.BytesIO()
    seg.save_as(buf)
    atomic_write_bytes(path, buf.getvalue())
