"""No patient identifier from DICOM headers may reach any output file."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from medtl.infer.score import score

from . import helpers


def _all_bytes(folder: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()]


def test_canary_identifiers_never_reach_outputs(seg_model, cls3d_model, tmp_path):
    files = helpers.write_ct_series(tmp_path / "in" / "series", canary=helpers.CANARY)
    src = pydicom.dcmread(files[0])
    assert helpers.CANARY in str(src.PatientName) and helpers.CANARY in str(src.InstitutionName)
    for name, model in (("seg", seg_model), ("cls", cls3d_model)):
        out = tmp_path / f"out_{name}"
        summary = score(model, [tmp_path / "in"], out, workers=0, quiet=True)
        assert summary.ok == 1, name
        found = _all_bytes(out)
        assert len(found) >= 6
        for path, data in found:
            for needle in (helpers.CANARY, "19700101"):
                assert needle.encode() not in data and needle.lower().encode() not in data.lower(), path
    seg = pydicom.dcmread(tmp_path / "out_seg" / "seg" / "series.dcm")
    assert seg.PatientName == "" and seg.PatientID == "" and "OtherPatientIDs" not in seg
    assert seg.StudyInstanceUID == src.StudyInstanceUID  # still references the source study


def test_multiframe_canary_identifiers_never_reach_outputs(seg_model, tmp_path):
    """One Enhanced CT file (canaries in the identifying tags and in every per-frame group)."""
    src_path = helpers.write_ct_multiframe(tmp_path / "in" / "mf", canary=helpers.CANARY, shuffle_frames=True)
    src = pydicom.dcmread(src_path, stop_before_pixels=True)
    assert helpers.CANARY in str(src.PatientName) and helpers.CANARY in str(src.PerFrameFunctionalGroupsSequence[0])
    out = tmp_path / "out"
    summary = score(seg_model, [tmp_path / "in"], out, workers=0, quiet=True)
    assert summary.ok == 1
    (seg_path,) = (out / "seg").glob("*.dcm")
    for path, data in _all_bytes(out):
        for needle in (helpers.CANARY, "19700101"):
            assert needle.encode() not in data and needle.lower().encode() not in data.lower(), path
    seg = pydicom.dcmread(seg_path)
    assert seg.PatientName == "" and seg.PatientID == "" and "OtherPatientIDs" not in seg
    assert int(seg.NumberOfFrames) == int(src.NumberOfFrames)  # one segment, one SEG frame per source frame
    assert seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID


@pytest.mark.parametrize("multiframe", [False, True])
def test_keep_patient_ids_is_opt_in(seg_model, tmp_path, multiframe):
    if multiframe:
        helpers.write_ct_multiframe(tmp_path / "in" / "series", canary=helpers.CANARY, shuffle_frames=True)
    else:
        helpers.write_ct_series(tmp_path / "in" / "series", canary=helpers.CANARY)
    score(seg_model, [tmp_path / "in"], tmp_path / "out", workers=0, quiet=True, keep_patient_ids=True,
          formats=("dicom-seg",))
    (seg_path,) = (tmp_path / "out" / "seg").glob("*.dcm")
    seg = pydicom.dcmread(seg_path)
    assert helpers.CANARY in str(seg.PatientName)
    assert not (tmp_path / "out" / "predictions.csv").exists() and not (tmp_path / "out" / "masks").exists()
