"""Tiny unlabelled data for the pretraining tests: NIfTI and PNG folders, a manifest, an npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.train.conftest import _write_manifest as write_manifest  # noqa: F401 (re-exported to the tests)


def _blobs(rng, n: int, shape: tuple[int, ...]) -> list[np.ndarray]:
    out = []
    for _ in range(n):
        img = rng.normal(60, 10, shape)
        grid = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
        centre = [rng.integers(s // 4, 3 * s // 4) for s in shape]
        img[sum((g - c) ** 2 for g, c in zip(grid, centre)) <= (min(shape) // 4) ** 2] += 120
        out.append(np.clip(img, 0, 255).astype(np.float32))
    return out


def write_nifti(path: Path, arr: np.ndarray) -> Path:
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(arr, np.diag([1.0, 1.0, 1.5, 1.0])), str(path))
    return path


@pytest.fixture
def nifti_folder(tmp_path: Path) -> Path:
    """Ten 16^3 NIfTI volumes in a folder tree (one in a sub-folder)."""
    root = tmp_path / "unlabelled"
    for i, vol in enumerate(_blobs(np.random.default_rng(0), 10, (16, 16, 16))):
        write_nifti(root / ("sub" if i == 9 else "") / f"vol{i:02d}.nii.gz", vol)
    return root


@pytest.fixture
def png_folder(tmp_path: Path) -> Path:
    from PIL import Image

    root = tmp_path / "png"
    root.mkdir()
    for i, img in enumerate(_blobs(np.random.default_rng(1), 12, (32, 32))):
        Image.fromarray(img.astype(np.uint8)).save(root / f"img{i:02d}.png")
    return root


@pytest.fixture
def npz_unlabelled(tmp_path: Path) -> Path:
    rng = np.random.default_rng(2)
    arrays = {}
    for split, n in (("train", 16), ("val", 4), ("test", 4)):
        arrays[f"{split}_images"] = np.stack(_blobs(rng, n, (32, 32))).astype(np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).astype(np.uint8).reshape(-1, 1)
    path = tmp_path / "tiny.npz"
    np.savez(path, **arrays)
    return path


def pretrain_config(data, out: Path, *, epochs: int = 2, size: int = 16, extra: tuple[str, ...] = ()):
    from medtl.pretrain import load_pretrain_config

    return load_pretrain_config(overrides=[
        f"data.path={data}", f"out={out}", "model.encoder=tiny", f"epochs={epochs}", "batch_size=4",
        f"preprocess.image_size={size}", "quiet=true", "ssl.val_fraction=0.2", "ssl.local_shuffle_blocks=20",
        *extra])
