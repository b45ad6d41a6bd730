"""Tiny dataset folders in the field's layouts, built per test (fixtures shared with tests/cli)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medtl.data.synthetic import write_nifti


def png(path: Path, value: int = 0, *, mask_box: tuple[int, int] | None = None) -> Path:
    """A 6 x 5 greyscale PNG; with ``mask_box`` (row, col) a 0/255 mask with a 2 x 2 square there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((6, 5), value, np.uint8)
    if mask_box is not None:
        arr[:] = 0
        r, c = mask_box
        arr[r:r + 2, c:c + 2] = 255
    Image.fromarray(arr).save(path)
    return path


def nifti(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_nifti(path, array, np.eye(4))


@pytest.fixture
def msd_folder(tmp_path) -> Path:
    """MSD layout: 6 labelled cases, one test image, a macOS '._' file, MSD-style dataset.json."""
    root = tmp_path / "Task99_Tiny"
    rng = np.random.default_rng(0)
    for i in range(6):
        nifti(root / "imagesTr" / f"tiny_{i:03d}.nii.gz", rng.normal(size=(4, 5, 3)).astype(np.float32))
        label = np.zeros((4, 5, 3), np.uint8)
        label[1, 1, 1], label[2, 2, 2] = 1, 2
        nifti(root / "labelsTr" / f"tiny_{i:03d}.nii.gz", label)
    nifti(root / "imagesTs" / "tiny_100.nii.gz", np.zeros((4, 5, 3), np.float32))
    (root / "imagesTr" / "._tiny_000.nii.gz").write_bytes(b"\x00AppleDouble")
    (root / "dataset.json").write_text(json.dumps({
        "name": "Tiny", "modality": {"0": "MRI"},
        "labels": {"0": "background", "1": "Anterior", "2": "Posterior"},
        "training": [{"image": f"./imagesTr/tiny_{i:03d}.nii.gz", "label": f"./labelsTr/tiny_{i:03d}.nii.gz"}
                     for i in range(6)]}))
    return root


@pytest.fixture
def busi_folder(tmp_path) -> Path:
    """BUSI-like class folders: every image has a <stem>_mask.png; 'benign (1)' has a second mask."""
    root = tmp_path / "busi"
    for cls, n in (("benign", 4), ("malignant", 3), ("normal", 3)):
        for i in range(1, n + 1):
            png(root / cls / f"{cls} ({i}).png", 40 * i)
            png(root / cls / f"{cls} ({i})_mask.png", mask_box=(0, 0) if cls != "normal" else None)
    png(root / "benign" / "benign (1)_mask_1.png", mask_box=(3, 2))
    return root
