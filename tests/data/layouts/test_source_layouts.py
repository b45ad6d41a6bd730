"""Dataset folders through ``load_source``, and the manifest they stand for."""

import csv
from pathlib import Path

import numpy as np

from medtl.data import load_source
from medtl.data.layouts import infer_layout
from medtl.data.layouts.write import manifest_text, write_manifest
from medtl.data.transforms import PreprocessConfig, build_transforms


def _rows(src) -> set:
    return {(r["image"], str(r.get("mask")), r.get("label"), split) for split, recs in src.records.items() for r in recs}


def test_msd_folder_source(msd_folder):
    src = load_source(msd_folder, task="segmentation", seed=0)
    assert src.label_names == ["background", "Anterior", "Posterior"] and src.modality == "MR"
    assert sum(src.counts().values()) == 6 and src.counts()["train"] >= 1
    assert (src.spatial_dims, src.in_channels) == (3, 1)
    assert src.extra["layout"].startswith("found 6 labelled cases")
    assert src.fingerprint == load_source(msd_folder, task="segmentation", seed=0).fingerprint
    assert src.fingerprint != load_source(msd_folder, task="segmentation", seed=3).fingerprint


def test_written_manifest_gives_the_same_records(busi_folder, tmp_path):
    out = tmp_path / "busi.csv"
    write_manifest(infer_layout(busi_folder), out)
    with open(out, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == ["image", "label", "mask"] and len(table) == 10
    row = next(r for r in table if r["image"] == "busi/benign/benign (1).png")
    assert row["mask"] == "busi/benign/benign (1)_mask.png;busi/benign/benign (1)_mask_1.png"
    for task in ("segmentation", "classification"):
        assert _rows(load_source(out, task=task)) == _rows(load_source(busi_folder, task=task))
    assert not out.with_suffix(".json").exists()  # BUSI gives neither label names nor a modality


def test_msd_manifest_sidecar_round_trip(msd_folder, tmp_path):
    write_manifest(infer_layout(msd_folder), tmp_path / "m.csv")
    src = load_source(tmp_path / "m.csv", task="segmentation")
    assert src.label_names == ["background", "Anterior", "Posterior"] and src.modality == "MR"


def test_merged_masks_reach_the_transforms(busi_folder):
    src = load_source(busi_folder, task="segmentation")
    rec = next(r for recs in src.records.values() for r in recs if r["id"] == "benign/benign (1).png")
    assert src.label_names == ["background", "1"]
    cfg = PreprocessConfig(spatial_dims=2, image_size=(5, 6), in_channels=1, intensity="uint8",
                           resize_mode="pad_crop")
    out = build_transforms(cfg, train=False, keys=("image",), mask_key="mask")(dict(rec))
    mask = np.asarray(out["mask"])[0]
    assert mask.shape == (5, 6) and int(mask.sum()) == 8 and set(np.unique(mask)) == {0, 1}


def test_manifest_text_absolute_outside(busi_folder, tmp_path):
    text = manifest_text(infer_layout(busi_folder, task="classification"), tmp_path / "elsewhere")
    first = text.splitlines()[1].split(",")[0]
    assert Path(first).is_absolute() and Path(first).is_file()
