"""Manifests for the benchmark datasets that are folders of files (medtl trains from a manifest CSV).

- MSD Hippocampus: a fixed seeded 208/52 train/test split of the 260 cases (as in FINDINGS.md);
  10 % of the 208 become the validation split (model selection), so 187/21/52.
- MSD Hippocampus arranged as the MSD/nnU-Net raw layout (``msd_layout``: symlinks in imagesTr/ and
  labelsTr/ plus the task's dataset.json), which ``medtl train --data`` reads without a manifest.
- A subset of a manifest's training rows (``subset_manifest``): the labelled cases of one active-learning
  round (bench_continual.py active-seg), validation and test unchanged.
- DRIVE test split (20 images): 01-10 train (01-08 train, 09-10 validation), 11-20 test. The
  vessel masks (GIF 0/255) are rewritten as PNG 0/1 label maps; the field-of-view masks are kept
  for the Dice-inside-FOV evaluation.

Everything is written under the caller's work folder; the shared data is only read.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from medtl.errors import DataError
from medtl.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def hippocampus_split(n: int, *, seed: int = 0, test_fraction: float = 0.2, val_fraction: float = 0.1) -> list[str]:
    """Split names for cases 0..n-1 (sorted file order): a seeded permutation, the last 20 % = test.

    260 cases -> 208 train pool (187 train + 21 val) / 52 test.
    """
    order = np.random.default_rng(seed).permutation(n)
    n_train_pool = n - int(round(test_fraction * n))
    n_val = int(round(val_fraction * n_train_pool))
    split = [""] * n
    for rank, i in enumerate(order):
        split[i] = "val" if rank < n_val else "train" if rank < n_train_pool else "test"
    return split


def hippocampus_manifest(root: Path, dst: Path, *, seed: int = 0) -> Path:
    """``dst/hippocampus.csv`` (+ sidecar: label names, modality MR). Label fractions of its train split:
    ``data.label_fraction`` (medtl compare)."""
    root = Path(root)
    images = sorted((root / "images").glob("*.nii.gz"))
    pairs = [(img, root / "labels" / img.name) for img in images if (root / "labels" / img.name).is_file()]
    if not pairs:
        raise DataError("no image/label pairs (images/*.nii.gz + labels/)", path=root)
    split = hippocampus_split(len(pairs), seed=seed)
    rows = [{"image": str(img.resolve()), "mask": str(lab.resolve()), "patient_id": img.name.split(".")[0],
             "split": s} for (img, lab), s in zip(pairs, split)]
    path = Path(dst) / "hippocampus.csv"
    _write_csv(path, rows, ["image", "mask", "patient_id", "split"])
    atomic_write_json(path.with_suffix(".json"), {"label_names": ["background", "anterior", "posterior"],
                                                  "modality": "MR"})
    return path


def msd_layout(root: Path, dst: Path) -> Path:
    """``dst`` as an MSD Task04 folder: imagesTr/ and labelsTr/ symlinks to the pairs of ``root``
    (images/ + labels/) and Task04's dataset.json. Returns ``dst``."""
    root, dst = Path(root).resolve(), Path(dst)
    pairs = [img for img in sorted((root / "images").glob("*.nii.gz")) if (root / "labels" / img.name).is_file()]
    if not pairs:
        raise DataError("no image/label pairs (images/*.nii.gz + labels/)", path=root)
    for img in pairs:
        for src, sub in ((img, "imagesTr"), (root / "labels" / img.name, "labelsTr")):
            link = dst / sub / img.name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(src)
    atomic_write_json(dst / "dataset.json", {
        "name": "Hippocampus", "description": "Left and right hippocampus segmentation", "tensorImageSize": "3D",
        "modality": {"0": "MRI"}, "labels": {"0": "background", "1": "Anterior", "2": "Posterior"},
        "numTraining": len(pairs), "numTest": 0,
        "training": [{"image": f"./imagesTr/{p.name}", "label": f"./labelsTr/{p.name}"} for p in pairs], "test": []})
    return dst


def drive_manifest(root: Path, dst: Path) -> Path:
    """``dst/drive.csv``: RGB TIFF images, PNG 0/1 vessel masks; FOV masks in ``dst/fov/NN.png``."""
    from PIL import Image

    root, dst = Path(root), Path(dst)
    rows = []
    for img in sorted((root / "images").glob("*_test.tif")):
        num = img.name.split("_")[0]
        manual = root / "1st_manual" / f"{num}_manual1.gif"
        fov = root / "mask" / f"{num}_test_mask.gif"
        if not manual.is_file() or not fov.is_file():
            continue
        for src, out in ((manual, dst / "masks" / f"{num}.png"), (fov, dst / "fov" / f"{num}.png")):
            if not out.is_file():
                arr = (np.asarray(Image.open(src).convert("L")) > 127).astype(np.uint8)
                buf = io.BytesIO()
                Image.fromarray(arr).save(buf, format="PNG")
                atomic_write_bytes(out, buf.getvalue())
        k = int(num)
        split = "train" if k <= 8 else "val" if k <= 10 else "test"
        rows.append({"image": str(img.resolve()), "mask": str((dst / "masks" / f"{num}.png").resolve()),
                     "patient_id": num, "split": split})
    if not rows:
        raise DataError("no DRIVE images (images/NN_test.tif)", path=root / "images")
    path = dst / "drive.csv"
    _write_csv(path, rows, ["image", "mask", "patient_id", "split"])
    atomic_write_json(path.with_suffix(".json"), {"label_names": ["background", "vessel"]})
    return path


def read_split_rows(manifest: Path, split: str | None) -> list[dict]:
    """The rows of ``manifest`` in ``split`` (``None``: every row)."""
    with open(manifest, newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if split is None or r.get("split") == split]


def subset_manifest(manifest: Path, dst: Path, train_rows: list[dict]) -> Path:
    """``manifest`` with only ``train_rows`` left in its train split (validation and test whole), written
    to ``dst`` with a copy of its sidecar (label names): the labelled cases of an active-learning round."""
    manifest, dst = Path(manifest), Path(dst)
    keep = {r["image"] for r in train_rows}
    rows = [r for r in read_split_rows(manifest, None) if r["split"] != "train" or r["image"] in keep]
    _write_csv(dst, rows, list(rows[0]))
    sidecar = manifest.with_suffix(".json")
    if sidecar.is_file():
        atomic_write_text(dst.with_suffix(".json"), sidecar.read_text(encoding="utf-8"))
    return dst
