import json
from pathlib import Path

import numpy as np
import pytest

from medtl.data.layouts import infer_layout
from medtl.data.masks import read_mask
from medtl.data.synthetic import write_dicom_series
from medtl.errors import DataError
from tests.data.layouts.folders import nifti, png


def test_msd_folder_rows_labels_and_modality(msd_folder):
    layout = infer_layout(msd_folder)
    assert (layout.name, layout.task) == ("msd", "segmentation")
    assert [r.image_text for r in layout.rows] == [f"imagesTr/tiny_{i:03d}.nii.gz" for i in range(6)]
    assert all(r.mask == str(msd_folder / "labelsTr" / Path(r.image).name) for r in layout.rows)
    assert layout.label_names == ["background", "Anterior", "Posterior"] and layout.modality == "MR"
    assert "found 6 labelled cases" in layout.summary and "imagesTs/ (no labels) not used" in layout.summary


def test_msd_refuses_classification(msd_folder):
    with pytest.raises(DataError, match="--task segmentation") as err:
        infer_layout(msd_folder, task="classification")
    assert err.value.code == "wrong_task"


def test_nnunet_v2_channel_suffix_and_labels(tmp_path):
    root = tmp_path / "Dataset001_X"
    for i in range(3):
        nifti(root / "imagesTr" / f"case_{i}_0000.nii.gz", np.zeros((3, 3, 3), np.float32))
        nifti(root / "labelsTr" / f"case_{i}.nii.gz", np.zeros((3, 3, 3), np.uint8))
    (root / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1}, "file_ending": ".nii.gz",
        "numTraining": 3}))
    layout = infer_layout(root)
    assert [r.image_text for r in layout.rows] == [f"imagesTr/case_{i}_0000.nii.gz" for i in range(3)]
    assert layout.label_names == ["background", "liver"] and layout.modality == "CT"
    nifti(root / "imagesTr" / "case_1_0001.nii.gz", np.zeros((3, 3, 3), np.float32))
    with pytest.raises(DataError, match="'case_1' has 2 channel files.*4D NIfTI"):
        infer_layout(root)


def test_msd_label_without_image_is_named(msd_folder):
    nifti(msd_folder / "labelsTr" / "tiny_777.nii.gz", np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(DataError, match="tiny_777"):
        infer_layout(msd_folder)


def test_class_folders_of_pngs_and_dicom_series(tmp_path):
    root = tmp_path / "data"
    for i in range(3):
        png(root / "absent" / f"a{i}.png", i)
    write_dicom_series(root / "present" / "case1", np.zeros((4, 3, 3), np.int16), series_number=1)
    write_dicom_series(root / "present" / "case2", np.ones((4, 3, 3), np.int16), series_number=2)
    (root / "present" / "notes.txt").write_text("not a scan")
    layout = infer_layout(root)
    assert (layout.name, layout.task) == ("class-folders", "classification")
    got = {(r.image_text, r.label) for r in layout.rows}
    assert got == {("absent/a0.png", "absent"), ("absent/a1.png", "absent"), ("absent/a2.png", "absent"),
                   ("present/case1", "present"), ("present/case2", "present")}
    assert len(layout.left_out) == 1 and "notes.txt" in layout.left_out[0]
    assert layout.summary.startswith("found 5 images in 2 class folders (absent 3, present 2)")
    with pytest.raises(DataError, match="classification"):
        infer_layout(root, task="segmentation")


def test_busi_class_folders_with_masks(busi_folder):
    layout = infer_layout(busi_folder)
    assert layout.task == "segmentation" and len(layout.rows) == 10
    assert "10 with masks, 1 with several masks merged" in layout.summary
    row = next(r for r in layout.rows if r.image_text == "benign/benign (1).png")
    assert row.label == "benign" and [Path(m).name for m in row.mask] == ["benign (1)_mask.png",
                                                                          "benign (1)_mask_1.png"]
    merged = read_mask(row.mask).array[0]  # (cols, rows): the two squares, as 0/1
    assert merged.sum() == 8 and merged[0, 0] == 1 and merged[2, 3] == 1 and set(np.unique(merged)) == {0, 1}
    clf = infer_layout(busi_folder, task="classification")
    assert clf.task == "classification" and {r.label for r in clf.rows} == {"benign", "malignant", "normal"}
    assert not any("mask" in Path(r.image).name for r in clf.rows)


def test_partly_masked_class_folders_are_ambiguous(busi_folder):
    (busi_folder / "normal" / "normal (1)_mask.png").unlink()
    with pytest.raises(DataError, match="classification\\|segmentation") as err:
        infer_layout(busi_folder)
    assert err.value.code == "ambiguous_layout"
    seg = infer_layout(busi_folder, task="segmentation")
    assert len(seg.rows) == 9 and any("normal (1).png" in s for s in seg.left_out)


def test_flat_mask_siblings(tmp_path):
    for i in range(3):
        png(tmp_path / f"s{i}.png", 10)
        png(tmp_path / f"s{i}_mask.png", mask_box=(1, 1))
    png(tmp_path / "s0_mask2.png", mask_box=(4, 3))
    png(tmp_path / "lonely_mask.png", mask_box=(0, 0))
    layout = infer_layout(tmp_path)
    assert (layout.name, layout.task, len(layout.rows)) == ("mask-siblings", "segmentation", 3)
    assert isinstance(layout.rows[0].mask, list) and len(layout.rows[0].mask) == 2
    assert any("lonely_mask.png" in s for s in layout.left_out)
    assert "3 images with <stem>_mask siblings, 1 with several masks merged" in layout.summary


def test_images_and_masks_folders(tmp_path):
    for i in range(3):
        nifti(tmp_path / "images" / f"c{i}.nii.gz", np.zeros((3, 3, 2), np.float32))
        nifti(tmp_path / "labels" / f"c{i}.nii.gz", np.zeros((3, 3, 2), np.uint8))
    nifti(tmp_path / "images" / "c9.nii.gz", np.zeros((3, 3, 2), np.float32))
    layout = infer_layout(tmp_path)
    assert layout.name == "mask-folder" and len(layout.rows) == 3
    assert layout.left_out == [f"{tmp_path / 'images' / 'c9.nii.gz'}: no mask in labels/"]


def test_unknown_and_ambiguous_folders(tmp_path):
    png(tmp_path / "one" / "x.png")
    with pytest.raises(DataError, match="MSD/nnU-Net.*class folders") as err:
        infer_layout(tmp_path / "one")
    assert err.value.code == "unknown_layout"
    png(tmp_path / "pairs" / "images" / "x.png")
    png(tmp_path / "pairs" / "gt" / "x.png")
    with pytest.raises(DataError, match="masks/ or labels/") as err:
        infer_layout(tmp_path / "pairs")
    assert err.value.code == "ambiguous_layout"
    png(tmp_path / "dup" / "a" / "x.png")
    png(tmp_path / "dup" / "b" / "x.png")
    with pytest.raises(DataError, match="'x' is in both a/ and b/"):
        infer_layout(tmp_path / "dup")
