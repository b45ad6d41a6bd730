import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medtl.data import DataSource, load_source
from medtl.errors import ConfigError, DataError

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture
def png_manifest(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["image,label,patient_id"]
    for i in range(30):
        name = f"img_{i:02d}.png"
        Image.fromarray(rng.integers(0, 255, (8, 6), dtype=np.uint8)).save(tmp_path / name)
        lines.append(f"{name},{'yes' if i % 3 == 0 else 'no'},P{i // 2}")
    path = tmp_path / "cls.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_classification_manifest(png_manifest):
    src = load_source(png_manifest, task="classification", seed=0)
    assert isinstance(src, DataSource)
    assert src.label_names == ["no", "yes"] and not src.multilabel
    assert (src.spatial_dims, src.in_channels, src.modality) == (2, 1, None)
    assert sum(src.counts().values()) == 30 and all(src.counts().values())
    rec = src.records["train"][0]
    assert set(rec) == {"id", "image", "label", "patient_id"} and Path(rec["image"]).is_file()
    patients = {s: {r["patient_id"] for r in recs} for s, recs in src.records.items()}
    assert not (patients["train"] & patients["val"] or patients["train"] & patients["test"])
    assert src.source == str(png_manifest) and len(src.fingerprint) == 64


def test_fingerprint_stable_and_sensitive(png_manifest):
    a = load_source(png_manifest, task="classification").fingerprint
    assert a == load_source(png_manifest, task="classification").fingerprint
    assert a != load_source(png_manifest, task="classification", seed=5).fingerprint
    png_manifest.write_text(png_manifest.read_text().replace("img_00.png,yes", "img_00.png,no"))
    assert a != load_source(png_manifest, task="classification").fingerprint


def test_split_column_and_blank_rows_follow_patient(tmp_path):
    for i in range(6):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "m.csv").write_text(
        "image,label,patient_id,split\n0.png,a,P0,train\n1.png,b,P0,\n2.png,a,P1,test\n"
        "3.png,b,P2,val\n4.png,a,P3,\n5.png,b,P4,\n"
    )
    src = load_source(tmp_path / "m.csv", task="classification")
    by_id = {r["id"]: s for s, recs in src.records.items() for r in recs}
    assert by_id["0.png"] == by_id["1.png"] == "train"
    assert by_id["2.png"] == "test" and by_id["3.png"] == "val"
    assert src.in_channels == 3
    (tmp_path / "m.csv").write_text("image,label,patient_id,split\n0.png,a,P0,train\n1.png,b,P0,test\n")
    with pytest.raises(DataError, match="P0"):
        load_source(tmp_path / "m.csv", task="classification")


def test_segmentation_manifest_label_names(tmp_path):
    lines = ["image,mask,split"]
    for i in range(4):
        img = np.random.default_rng(i).normal(size=(6, 6, 4)).astype(np.float32)
        mask = np.zeros((6, 6, 4), np.uint8)
        mask[1:3, 1:3, 1] = 1 + (i == 2)
        nib.save(nib.Nifti1Image(img, np.eye(4)), str(tmp_path / f"i{i}.nii.gz"))
        nib.save(nib.Nifti1Image(mask, np.eye(4)), str(tmp_path / f"m{i}.nii.gz"))
        lines.append(f"i{i}.nii.gz,m{i}.nii.gz,{['train', 'train', 'val', 'test'][i]}")
    (tmp_path / "seg.csv").write_text("\n".join(lines) + "\n")
    src = load_source(tmp_path / "seg.csv", task="segmentation")
    assert src.label_names == ["background", "1", "2"]
    assert (src.spatial_dims, src.in_channels, src.task) == (3, 1, "segmentation")
    assert src.counts() == {"train": 2, "val": 1, "test": 1}
    assert src.records["val"][0]["mask"] == str(tmp_path / "m2.nii.gz")
    (tmp_path / "seg.json").write_text(json.dumps({"label_names": ["background", "a", "b"], "modality": "CT"}))
    src = load_source(tmp_path / "seg.csv", task="segmentation")
    assert src.label_names == ["background", "a", "b"] and src.modality == "CT"


def test_segmentation_png_masks_0_255_are_binary(tmp_path):
    lines = ["image,mask"]
    for i in range(3):
        mask = np.zeros((6, 5), np.uint8)
        mask[1:3, 1:3] = 255
        Image.fromarray(mask).save(tmp_path / f"m{i}.png")
        Image.fromarray(np.zeros((6, 5, 3), np.uint8)).save(tmp_path / f"i{i}.png")
        lines.append(f"i{i}.png,m{i}.png")
    (tmp_path / "seg.csv").write_text("\n".join(lines) + "\n")
    src = load_source(tmp_path / "seg.csv", task="segmentation")
    assert src.label_names == ["background", "1"] and src.in_channels == 3


def test_npz_source(tmp_path):
    arrays = {f"{s}_images": np.zeros((3, 5, 5), np.uint8) for s in ("train", "val", "test")}
    arrays.update({f"{s}_labels": np.array([[0], [1], [1]]) for s in ("train", "val", "test")})
    np.savez(tmp_path / "d.npz", **arrays)
    src = load_source(tmp_path / "d.npz", task="classification")
    assert src.counts() == {"train": 3, "val": 3, "test": 3} and src.label_names == ["0", "1"]
    with pytest.raises(DataError, match="classification"):
        load_source(tmp_path / "d.npz", task="segmentation")


def test_bad_inputs(tmp_path, png_manifest):
    with pytest.raises(ConfigError):
        load_source(png_manifest, task="detection")
    with pytest.raises(DataError) as err:
        load_source(tmp_path / "missing.csv", task="classification")
    assert err.value.code == "not_found"
    with pytest.raises(DataError):
        load_source(tmp_path, task="classification")


@pytest.mark.slow
def test_real_breastmnist():
    path = SHARED / "breastmnist" / "breastmnist.npz"
    if not path.is_file():
        pytest.skip("shared BreastMNIST data not present")
    src = load_source(path, task="classification")
    assert src.counts() == {"train": 546, "val": 78, "test": 156}
    assert src.label_names == ["malignant", "normal, benign"] and src.modality == "US"
    assert (src.spatial_dims, src.in_channels) == (2, 1)
    img = src.records["train"][0]["image"]
    assert img.shape == (1, 28, 28) and img.dtype == np.uint8 and img.max() > 0
    labels = {r["label"] for r in src.records["test"]}
    assert labels == {0, 1}


def test_dicom_series_folder_in_manifest(tmp_path):
    from medtl.data.synthetic import write_dicom_series

    for i in range(3):
        vol = np.full((8, 8, 4), 1024 + 40 * i, np.int16)
        write_dicom_series(tmp_path / f"s{i}", vol, patient_name="SYNTH^X", patient_id=f"S{i}", seed=i)
    (tmp_path / "d.csv").write_text("image,label\n" + "".join(f"s{i},{i % 2}\n" for i in range(3)))
    src = load_source(tmp_path / "d.csv", task="classification")
    assert (src.spatial_dims, src.in_channels, src.modality) == (3, 1, "CT")
    assert src.label_names == ["0", "1"] and sum(src.counts().values()) == 3


@pytest.mark.slow
def test_real_hippocampus_and_drive_segmentation_manifests(tmp_path):
    import torch

    from medtl.data import PreprocessConfig, build_transforms

    hippo, drive = SHARED / "msd_hippocampus", SHARED / "drive_test"
    if not (hippo / "images").is_dir() or not (drive / "images").is_dir():
        pytest.skip("shared MSD Hippocampus / DRIVE data not present")
    names = sorted(p.name for p in (hippo / "images").glob("*.nii.gz"))[:4]
    (tmp_path / "hippo.csv").write_text(
        "image,mask\n" + "".join(f"{hippo / 'images' / n},{hippo / 'labels' / n}\n" for n in names)
    )
    src = load_source(tmp_path / "hippo.csv", task="segmentation")
    assert src.label_names == ["background", "1", "2"] and (src.spatial_dims, src.in_channels) == (3, 1)
    cfg = PreprocessConfig(spatial_dims=3, image_size=(48, 64, 48), intensity="mr_percentile", resize_mode="pad_crop")
    out = build_transforms(cfg, train=False, mask_key="mask")(src.records["train"][0])
    assert tuple(out["mask"].shape) == (1, 48, 64, 48) and set(torch.unique(out["mask"]).tolist()) == {0, 1, 2}

    rows = [f"images/{i:02d}_test.tif,1st_manual/{i:02d}_manual1.gif" for i in (1, 2, 3)]
    (tmp_path / "drive.csv").write_text("image,mask\n" + "".join(
        f"{drive / a},{drive / b}\n" for a, b in (r.split(",") for r in rows)))
    src = load_source(tmp_path / "drive.csv", task="segmentation")
    assert src.label_names == ["background", "1"] and (src.spatial_dims, src.in_channels) == (2, 3)
    cfg = PreprocessConfig(spatial_dims=2, image_size=(128, 128), in_channels=3, intensity="uint8")
    out = build_transforms(cfg, train=True, mask_key="mask")(src.records["train"][0])
    assert tuple(out["image"].shape) == (3, 128, 128) and set(torch.unique(out["mask"]).tolist()) <= {0, 1}
