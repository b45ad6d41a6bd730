from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.pixels import pixel_array

from medtl.data import read_scan
from medtl.errors import MedtlError
from medtl.infer.dicom_seg import write_dicom_seg

from . import helpers


def _slice_patterns(shape) -> np.ndarray:
    """A different pattern on every slice, label 2 on the last one."""
    mask = np.zeros(shape, np.uint8)
    for k in range(shape[2]):
        mask[k : k + 3, 2 * k : 2 * k + 2, k] = 1
    mask[0, 0, shape[2] - 1] = 2
    return mask


def _check_frames(seg, mask: np.ndarray, affine: np.ndarray) -> int:
    """Every SEG frame equals its segment of the mask slice at the frame's position; returns the count."""
    inv = np.linalg.inv(affine)
    checked = 0
    for frame, item in zip(pixel_array(seg), seg.PerFrameFunctionalGroupsSequence):
        segment = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        lps = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
        k = int(round((inv @ [-lps[0], -lps[1], lps[2], 1.0])[2]))
        np.testing.assert_array_equal(frame, (mask[:, :, k] == segment).T.astype(frame.dtype))
        checked += 1
    return checked


def test_frames_follow_slice_positions_not_file_order(tmp_path):
    files = helpers.write_ct_series(tmp_path / "ct", shape=(20, 16, 6), reverse_files=True, shuffle_instances=True)
    scan = read_scan(tmp_path / "ct")
    mask = _slice_patterns(scan.spatial_shape)
    write_dicom_seg(tmp_path / "seg.dcm", mask, scan.affine, [str(f) for f in files], ["bg", "a", "b"])
    seg = pydicom.dcmread(tmp_path / "seg.dcm")
    assert len(seg.SegmentSequence) == 2 and seg.SegmentSequence[1].SegmentLabel == "b"
    assert _check_frames(seg, mask, scan.affine) == 12


@pytest.mark.parametrize("shuffle, orientation_per_frame", [(False, False), (True, False), (True, True)])
def test_multiframe_frames_follow_frame_positions_not_frame_order(tmp_path, shuffle, orientation_per_frame):
    src_path = helpers.write_ct_multiframe(tmp_path / "mf", shape=(16, 16, 5), shuffle_frames=shuffle,
                                           orientation_per_frame=orientation_per_frame)
    src = pydicom.dcmread(src_path)
    z = [float(g.PlanePositionSequence[0].ImagePositionPatient[2]) for g in src.PerFrameFunctionalGroupsSequence]
    assert (z != sorted(z)) == shuffle
    scan = read_scan(src_path)
    assert scan.spatial_shape == (16, 16, 5)
    mask = _slice_patterns(scan.spatial_shape)
    write_dicom_seg(tmp_path / "seg.dcm", mask, scan.affine, [str(src_path)], ["bg", "a", "b"])

    seg = pydicom.dcmread(tmp_path / "seg.dcm")
    assert seg.Modality == "SEG" and int(seg.NumberOfFrames) == 10 and len(seg.SegmentSequence) == 2
    assert seg.StudyInstanceUID == src.StudyInstanceUID and seg.FrameOfReferenceUID == src.FrameOfReferenceUID
    (series,) = seg.ReferencedSeriesSequence
    assert series.SeriesInstanceUID == src.SeriesInstanceUID
    assert [i.ReferencedSOPInstanceUID for i in series.ReferencedInstanceSequence] == [src.SOPInstanceUID]
    assert _check_frames(seg, mask, scan.affine) == 10
    # each SEG frame references the source frame at its own position, whose pixels are that scan slice
    inv, source_pixels = np.linalg.inv(scan.affine), src.pixel_array
    for item in seg.PerFrameFunctionalGroupsSequence:
        (ref,) = item.DerivationImageSequence[0].SourceImageSequence
        assert ref.ReferencedSOPInstanceUID == src.SOPInstanceUID
        n = int(ref.ReferencedFrameNumber) - 1
        lps = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
        source_lps = [float(v) for v in src.PerFrameFunctionalGroupsSequence[n].PlanePositionSequence[0]
                      .ImagePositionPatient]
        np.testing.assert_allclose(lps, source_lps)
        k = int(round((inv @ [-lps[0], -lps[1], lps[2], 1.0])[2]))
        np.testing.assert_array_equal(source_pixels[n].T - 1024.0, scan.array[0, :, :, k])
    assert hd.seg.segread(tmp_path / "seg.dcm").get_source_image_uids() == [
        (src.StudyInstanceUID, src.SeriesInstanceUID, src.SOPInstanceUID)]


def test_multiframe_without_per_frame_positions_is_seg_unsupported(tmp_path):
    (path,) = helpers.write_ct_series(tmp_path / "mf", shape=(16, 16, 4), multiframe="plain")
    scan = read_scan(path)  # the reader places the frames; a SEG could not reference them
    with pytest.raises(MedtlError, match="per-frame positions") as err:
        write_dicom_seg(tmp_path / "seg.dcm", np.zeros(scan.spatial_shape, np.uint8), scan.affine, [str(path)],
                        ["bg", "a"])
    assert err.value.code == "seg_unsupported" and not (tmp_path / "seg.dcm").exists()


def test_unsupported_multiframe_still_writes_the_mask(seg_model, tmp_path):
    import json

    from medtl.infer.score import score

    helpers.write_ct_series(tmp_path / "in" / "mf", shape=(16, 16, 4), multiframe="plain")
    s = score(seg_model, [tmp_path / "in"], tmp_path / "out", workers=0, quiet=True)
    assert s.ok == 1 and s.exit_code == 0
    (case,) = json.loads((tmp_path / "out" / "run_manifest.json").read_text())["cases"].items()
    assert case[1]["status"] == "ok" and not (tmp_path / "out" / "seg").exists()
    assert any(o.startswith("masks/") for o in case[1]["outputs"])
    info = json.loads((tmp_path / "out" / "cases" / case[0] / "case.json").read_text())
    assert any("no DICOM SEG" in w and "[seg_unsupported]" in w for w in info["warnings"])
