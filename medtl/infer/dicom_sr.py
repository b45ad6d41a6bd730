"""A DICOM Comprehensive SR (highdicom) with a classification result, referencing its source series.

Content: a root container "Imaging Measurement Report" holding the predicted label (TEXT,
"Finding") and one NUM per class ("Probability of <label>", unit ``1``), plus the algorithm's name
and version. The source series is referenced by its instances (CurrentRequestedProcedureEvidence).
The same privacy choice as the SEG (medtl.infer.dicom_seg): highdicom gets whitelisted copies of the
source headers unless ``keep_patient_ids``. The UIDs are derived from the model and the source
series, so storing a result again replaces it instead of adding a copy.
"""

from __future__ import annotations

from medtl.errors import MedtlError
from medtl.infer.dicom_seg import _minimal, _scrub

_SCHEME = "99MEDTL"  # private coding scheme of the per-class probability concepts


def classification_sr(files: list[str], label_names: list[str], probabilities: dict[str, float],
                      predicted_label: str, *, model_id: str, keep_patient_ids: bool = False):
    """The SR dataset for one classified DICOM series (``files`` are its instances)."""
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    from medtl import __version__

    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    evidence = headers if keep_patient_ids else [_minimal(ds) for ds in headers]
    series_uid = str(headers[0].SeriesInstanceUID)
    contains = hd.sr.RelationshipTypeValues.CONTAINS
    items = [hd.sr.TextContentItem(name=codes.DCM.Finding, value=str(predicted_label)[:1024],
                                   relationship_type=contains),
             hd.sr.TextContentItem(name=codes.DCM.AlgorithmName, value="medtl", relationship_type=contains),
             hd.sr.TextContentItem(name=codes.DCM.AlgorithmVersion, value=f"{__version__} model {model_id[:16]}",
                                   relationship_type=contains)]
    for i, name in enumerate(label_names):
        concept = hd.sr.CodedConcept(value=f"P{i}", scheme_designator=_SCHEME,
                                     meaning=f"Probability of {name}"[:64])
        items.append(hd.sr.NumContentItem(name=concept, value=float(probabilities[name]),
                                          unit=codes.UCUM.NoUnits, relationship_type=contains))
    root = hd.sr.ContainerContentItem(name=codes.DCM.ImagingMeasurementReport, template_id="1500")
    root.ContentSequence = items
    try:
        sr = hd.sr.ComprehensiveSR(
            evidence=evidence, content=root, series_instance_uid=generate_uid(entropy_srcs=[model_id, series_uid, "s"]),
            series_number=901, sop_instance_uid=generate_uid(entropy_srcs=[model_id, series_uid, "i"]),
            instance_number=1, manufacturer="medtl", series_description="medtl classification", is_complete=True,
        )
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise MedtlError(f"highdicom could not build the SR: {exc}", path=files[0], code="sr_failed") from exc
    if not keep_patient_ids:
        _scrub(sr)
    return sr
