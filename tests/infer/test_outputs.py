from __future__ import annotations

import csv

import nibabel as nib
import numpy as np
import pytest

from medtl.infer.outputs import (
    classification_row,
    measure_labels,
    normalised_entropy,
    prediction_header,
    write_mask_nifti,
    write_predictions_csv,
)


def test_binary_row_uses_threshold_and_entropy():
    row = classification_row(np.array([0.7, 0.3]), ["neg", "pos"], threshold=0.25, multilabel=False)
    assert row["predicted_label"] == "pos" and row["confidence"] == pytest.approx(0.3)
    assert row["prob_neg"] == pytest.approx(0.7)
    assert 0 < row["uncertainty"] < 1
    row = classification_row(np.array([0.7, 0.3]), ["neg", "pos"], threshold=0.5, multilabel=False)
    assert row["predicted_label"] == "neg"


def test_multiclass_and_multilabel_rows():
    row = classification_row(np.array([0.1, 0.2, 0.7]), ["a", "b", "c"], threshold=0.5, multilabel=False,
                             disagreement=0.125)
    assert row["predicted_label"] == "c" and row["tta_disagreement"] == 0.125
    row = classification_row(np.array([0.9, 0.2, 0.6]), ["a", "b", "c"], threshold=0.5, multilabel=True)
    assert row["predicted_label"] == "a;c"


def test_normalised_entropy_bounds():
    assert normalised_entropy(np.array([0.25] * 4)) == pytest.approx(1.0)
    assert normalised_entropy(np.array([1.0, 0.0, 0.0])) == pytest.approx(0.0, abs=1e-6)
    assert normalised_entropy(np.array([0.5, 0.5]), multilabel=True) == pytest.approx(1.0)


def test_volumes_in_ml_and_areas():
    mask = np.zeros((10, 10, 10), np.uint8)
    mask[:5, :4, :2] = 1  # 40 voxels
    mask[0, 0, 9] = 2
    vol = measure_labels(mask, (2.0, 1.0, 2.5), ["bg", "a", "b"])  # 5 mm^3 per voxel
    assert vol == {"volume_ml_a": pytest.approx(0.2), "volume_ml_b": pytest.approx(0.005)}
    assert measure_labels(mask[:, :, 0], (0.5, 0.5), ["bg", "a", "b"]) == {"area_mm2_a": 5.0, "area_mm2_b": 0.0}


def test_mask_nifti_keeps_geometry(tmp_path):
    affine = np.array([[0, -0.7, 0, 10], [0.9, 0, 0, -5], [0, 0, 3.0, 2], [0, 0, 0, 1]])
    mask = np.zeros((7, 5, 3), np.uint8)
    mask[1, 2, 0] = 1
    write_mask_nifti(tmp_path / "m.nii.gz", mask, affine)
    img = nib.load(tmp_path / "m.nii.gz")
    assert img.shape == (7, 5, 3) and np.allclose(img.affine, affine)
    assert np.array_equal(np.asarray(img.dataobj), mask)
    assert not list(tmp_path.glob(".*tmp"))


def test_predictions_csv_header_and_failed_rows(tmp_path):
    header = prediction_header("classification", ["a", "b"], spatial_dims=2, tta=True)
    assert header == ["case_id", "source", "prob_a", "prob_b", "predicted_label", "confidence", "uncertainty",
                      "tta_disagreement", "status"]
    write_predictions_csv(tmp_path / "p.csv", header, [{"case_id": "x", "source": "x.png", "status": "failed"}])
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert rows == [{**dict.fromkeys(header, ""), "case_id": "x", "source": "x.png", "status": "failed"}]
    assert prediction_header("segmentation", ["bg", "l"], spatial_dims=3, tta=False) == [
        "case_id", "source", "volume_ml_l", "confidence", "uncertainty", "flags", "status"]
    assert prediction_header("segmentation", ["bg", "l"], spatial_dims=2, tta=True)[-3:] == [
        "flags", "tta_disagreement", "status"]


def test_preview_npz_is_reproducible_and_loads_without_pickle(tmp_path):
    from medtl.infer.outputs import cam_from_stored, write_preview

    rng = np.random.default_rng(0)
    image, cam = rng.random((30, 20)).astype(np.float32), rng.random((30, 20)).astype(np.float32)
    for name in ("a.npz", "b.npz"):
        write_preview(tmp_path / name, image=image, spacing=(0.5, 0.7), affine=np.eye(4), cam=cam)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    z = np.load(tmp_path / "a.npz", allow_pickle=False)
    assert sorted(z.files) == ["affine", "cam", "image", "spacing"]
    np.testing.assert_array_equal(z["image"], image)  # non-integer values stay float32, exactly
    assert z["cam"].dtype == np.uint8
    assert np.abs(cam_from_stored(z["cam"]) - cam).max() <= 0.5 / 255 + 1e-7
    assert z["spacing"].dtype == np.float64 and z["image"].dtype == np.float32


@pytest.mark.parametrize(("values", "dtype"), [
    ([0, 17, 255], np.uint8),  # an 8-bit PNG / ultrasound frame
    ([-1024, 0, 3071], np.int16),  # CT in HU
    ([0, 70000], np.float32),  # outside int16
    ([0.5, 1.0], np.float32),  # resampled: not integers
    ([np.nan, 1.0], np.float32),
])
def test_preview_image_is_stored_losslessly_in_the_smallest_dtype(values, dtype):
    from medtl.infer.outputs import compact_image

    image = np.array(values, np.float32).reshape(1, -1)
    stored = compact_image(image)
    assert stored.dtype == dtype
    np.testing.assert_array_equal(stored.astype(np.float32), image)


def test_cam_round_trip_reads_old_float32_previews():
    from medtl.infer.outputs import cam_from_stored, cam_to_uint8

    cam = np.array([0.0, 0.25, 1.0, 1.3, -0.1], np.float32)
    assert cam_to_uint8(cam).tolist() == [0, 64, 255, 255, 0]
    np.testing.assert_allclose(cam_from_stored(cam_to_uint8(cam)), [0, 64 / 255, 1, 1, 0])
    assert cam_from_stored(cam).dtype == np.float32 and cam_from_stored(cam)[1] == np.float32(0.25)
