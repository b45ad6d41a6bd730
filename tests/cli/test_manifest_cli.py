"""`medtl manifest` and `medtl train --data FOLDER` through the console entry point."""

from __future__ import annotations

import json

from medtl.cli.main import main


def test_manifest_writes_and_refuses_to_overwrite(busi_folder, tmp_path, capsys):
    out = tmp_path / "out" / "busi.csv"
    assert main(["manifest", str(busi_folder), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "found 10 images in 3 class folders" in printed and "1 with several masks merged" in printed
    assert out.read_text().startswith("image,label,mask\n")
    assert main(["manifest", str(busi_folder), "--out", str(out), "--task", "classification"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["manifest", str(busi_folder), "--out", str(out), "--task", "classification", "--force"]) == 0
    assert "read for classification" in capsys.readouterr().out


def test_manifest_refuses_ambiguous_and_inside_data(busi_folder, tmp_path, capsys):
    assert main(["manifest", str(busi_folder), "--out", str(busi_folder / "m.csv")]) == 2
    assert "inside the data folder" in capsys.readouterr().err
    assert not (busi_folder / "m.csv").exists()
    (busi_folder / "normal" / "normal (2)_mask.png").unlink()
    assert main(["manifest", str(busi_folder), "--out", str(tmp_path / "m.csv")]) == 1
    err = capsys.readouterr().err
    assert "--task classification|segmentation" in err and "Traceback" not in err


def test_train_on_msd_folder_infers_segmentation(msd_folder, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--data", str(msd_folder), "--out", str(out), "--encoder", "tiny", "--weights", "none",
            "--strategy", "scratch", "--epochs", "1", "--image-size", "16", "--quiet", "--set", "batch_size=2"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "data: found 6 labelled cases" in captured.out + captured.err
    info = json.loads((out / "model.json").read_text())
    assert info["task"] == "segmentation" and info["label_names"] == ["background", "Anterior", "Posterior"]


def test_inspect_names_the_layout(msd_folder, capsys):
    assert main(["inspect", str(msd_folder)]) == 1  # dataset.json is listed as a file that is not a scan
    assert "layout: found 6 labelled cases in an MSD/nnU-Net folder (Tiny, 2 foreground labels)" in (
        capsys.readouterr().out)


def test_manifest_from_labels_keyed_by_series_uid(tmp_path, capsys):
    import numpy as np
    import pydicom

    from medtl.data.synthetic import write_dicom_series

    data = tmp_path / "export"
    uids = []
    for i in range(3):
        files = write_dicom_series(data / f"s{i}", np.full((4, 3, 3), i, np.int16), series_number=i + 1)
        uids.append(pydicom.dcmread(files[0], stop_before_pixels=True).SeriesInstanceUID)
    (data / "labels.csv").write_text(f"SeriesInstanceUID,label\n{uids[0]},a\n{uids[1]},b\n9.9.9,a\n")
    out = tmp_path / "m.csv"
    assert main(["manifest", str(data / "labels.csv"), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "1 CSV row without a series, 1 series without a row" in captured.out
    assert "line 4: no series with SeriesInstanceUID 9.9.9" in captured.err and "s2: series not in" in captured.err
    assert out.read_text() == "image,label\nexport/s0,a\nexport/s1,b\n"


def _train(data, out, *extra):
    return ["train", "--data", str(data), "--out", str(out), "--encoder", "tiny", "--weights", "none",
            "--strategy", "scratch", "--epochs", "1", "--image-size", "16", "--quiet", "--set", "batch_size=2",
            "--set", "data.val_fraction=0.2", "--set", "data.test_fraction=0.2", *extra]


def test_train_on_class_folders_with_merged_masks(busi_folder, tmp_path, capsys):
    assert main(_train(busi_folder, tmp_path / "seg")) == 0
    captured = capsys.readouterr()
    assert "1 with several masks merged; read for segmentation" in captured.out + captured.err
    info = json.loads((tmp_path / "seg" / "model.json").read_text())
    assert info["task"] == "segmentation" and info["label_names"] == ["background", "1"]
    assert main(_train(busi_folder, tmp_path / "clf", "--task", "classification")) == 0
    info = json.loads((tmp_path / "clf" / "model.json").read_text())
    assert info["task"] == "classification" and info["label_names"] == ["benign", "malignant", "normal"]
