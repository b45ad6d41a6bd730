"""Tiny synthetic datasets for the training tests: the label (or mask) is a bright blob."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest


def blob_image(rng: np.random.Generator, size: int, dims: int, present: bool) -> tuple[np.ndarray, np.ndarray]:
    """A noisy image/volume and its blob mask (empty when ``present`` is False)."""
    shape = (size,) * dims
    img = rng.normal(60, 12, shape)
    mask = np.zeros(shape, np.uint8)
    if present:
        r = size // 5
        centre = rng.integers(r + 1, size - r - 1, dims)
        grid = np.meshgrid(*[np.arange(size)] * dims, indexing="ij")
        d2 = sum((g - c) ** 2 for g, c in zip(grid, centre))
        mask[d2 <= r * r] = 1
        img[mask == 1] += 120
    return np.clip(img, 0, 255).astype(np.uint8), mask


def _labels(n: int) -> list[int]:
    return [i % 2 for i in range(n)]


@pytest.fixture
def npz_2d(tmp_path: Path) -> Path:
    """A MedMNIST-style npz (32 px, binary: blob present = 1)."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 48), ("val", 16), ("test", 16)):
        labels = _labels(n)
        arrays[f"{split}_images"] = np.stack([blob_image(rng, 32, 2, bool(y))[0] for y in labels])
        arrays[f"{split}_labels"] = np.asarray(labels, np.uint8).reshape(-1, 1)
    path = tmp_path / "blobs.npz"
    np.savez(path, **arrays)
    return path


def _write_manifest(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _splits(n_train: int, n_val: int, n_test: int) -> list[str]:
    return ["train"] * n_train + ["val"] * n_val + ["test"] * n_test


@pytest.fixture
def png_manifest(tmp_path: Path) -> Path:
    """2D classification manifest of PNG files (labels "absent"/"present"), explicit splits."""
    from PIL import Image

    rng = np.random.default_rng(1)
    rows = []
    for i, split in enumerate(_splits(32, 12, 12)):
        y = i % 2
        img, _ = blob_image(rng, 32, 2, bool(y))
        f = tmp_path / "png" / f"img{i:03d}.png"
        f.parent.mkdir(exist_ok=True)
        Image.fromarray(img).save(f)
        rows.append({"image": f"png/{f.name}", "label": ["absent", "present"][y], "patient_id": f"P{i}",
                     "split": split})
    return _write_manifest(tmp_path / "classification.csv", rows)


def _nifti(path: Path, arr: np.ndarray) -> None:
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(arr, np.diag([1.5, 1.5, 2.0, 1.0])), str(path))


@pytest.fixture
def nifti_cls_manifest(tmp_path: Path) -> Path:
    """3D classification manifest of 16^3 NIfTI volumes."""
    rng = np.random.default_rng(2)
    rows = []
    for i, split in enumerate(_splits(24, 8, 8)):
        y = i % 2
        vol, _ = blob_image(rng, 16, 3, bool(y))
        _nifti(tmp_path / "vol" / f"v{i:03d}.nii.gz", vol.astype(np.float32))
        rows.append({"image": f"vol/v{i:03d}.nii.gz", "label": str(y), "split": split})
    return _write_manifest(tmp_path / "cls3d.csv", rows)


@pytest.fixture
def seg2d_manifest(tmp_path: Path) -> Path:
    """2D segmentation manifest: PNG images and PNG masks (0 background, 1 blob)."""
    from PIL import Image

    rng = np.random.default_rng(3)
    rows = []
    for i, split in enumerate(_splits(24, 8, 8)):
        img, mask = blob_image(rng, 32, 2, True)
        (tmp_path / "seg").mkdir(exist_ok=True)
        Image.fromarray(img).save(tmp_path / "seg" / f"i{i:03d}.png")
        Image.fromarray(mask).save(tmp_path / "seg" / f"m{i:03d}.png")
        rows.append({"image": f"seg/i{i:03d}.png", "mask": f"seg/m{i:03d}.png", "split": split})
    path = _write_manifest(tmp_path / "seg2d.csv", rows)
    (tmp_path / "seg2d.json").write_text(json.dumps({"label_names": ["background", "blob"]}))
    return path


@pytest.fixture
def seg3d_manifest(tmp_path: Path) -> Path:
    """3D segmentation manifest: 16^3 NIfTI volumes and masks."""
    rng = np.random.default_rng(4)
    rows = []
    for i, split in enumerate(_splits(16, 6, 6)):
        vol, mask = blob_image(rng, 16, 3, True)
        _nifti(tmp_path / "seg3d" / f"i{i:03d}.nii.gz", vol.astype(np.float32))
        _nifti(tmp_path / "seg3d" / f"m{i:03d}.nii.gz", mask)
        rows.append({"image": f"seg3d/i{i:03d}.nii.gz", "mask": f"seg3d/m{i:03d}.nii.gz", "split": split})
    path = _write_manifest(tmp_path / "seg3d.csv", rows)
    (tmp_path / "seg3d.json").write_text(json.dumps({"label_names": ["background", "blob"]}))
    return path


@pytest.fixture
def npz_multilabel(tmp_path: Path) -> Path:
    """Multi-label npz: label 0 = blob present, label 1 = bright background."""
    rng = np.random.default_rng(5)
    arrays = {}
    for split, n in (("train", 48), ("val", 16), ("test", 16)):
        labels = np.stack([np.arange(n) % 2, (np.arange(n) // 2) % 2], axis=1)
        images = []
        for a, b in labels:
            img, _ = blob_image(rng, 32, 2, bool(a))
            images.append(np.clip(img.astype(int) + 60 * int(b), 0, 255).astype(np.uint8))
        arrays[f"{split}_images"] = np.stack(images)
        arrays[f"{split}_labels"] = labels.astype(np.uint8)
    path = tmp_path / "multi.npz"
    np.savez(path, **arrays)
    return path
