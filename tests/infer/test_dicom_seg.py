from __future__ import annotations

import numpy as np
import pydicom
from pydicom.pixels import pixel_array

from medtl.data import read_scan
from medtl.infer.dicom_seg import write_dicom_seg

from . import helpers


def test_frames_follow_slice_positions_not_file_order(tmp_path):
    files = helpers.write_ct_series(tmp_path / "ct", shape=(20, 16, 6), reverse_files=True, shuffle_instances=True)
    scan = read_scan(tmp_path / "ct")
    mask = np.zeros(scan.spatial_shape, np.uint8)
    for k in range(6):
        mask[k : k + 3, 2 * k : 2 * k + 2, k] = 1  # a different pattern on every slice
    mask[0, 0, 5] = 2
    write_dicom_seg(tmp_path / "seg.dcm", mask, scan.affine, [str(f) for f in files], ["bg", "a", "b"])
    seg = pydicom.dcmread(tmp_path / "seg.dcm")
    assert len(seg.SegmentSequence) == 2 and seg.SegmentSequence[1].SegmentLabel == "b"
    frames = pixel_array(seg)  # (frames, rows, cols), one binary frame per (segment, slice)
    inv = np.linalg.inv(scan.affine)
    checked = 0
    for frame, item in zip(frames, seg.PerFrameFunctionalGroupsSequence):
        segment = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        lps = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
        k = int(round((inv @ [-lps[0], -lps[1], lps[2], 1.0])[2]))
        np.testing.assert_array_equal(frame, (mask[:, :, k] == segment).T.astype(frame.dtype))
        checked += 1
    assert checked == 12
