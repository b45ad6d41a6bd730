"""MedMNIST ``.npz`` files (MedMNIST v2 layout: ``{train,val,test}_images`` + ``*_labels``).

The file's own splits are kept. Images become channel-first arrays in the Scan axis convention:
2D ``(N, H, W)`` -> ``(1, W, H)``, ``(N, H, W, 3)`` -> ``(3, W, H)``; 3D ``(N, D, H, W)`` ->
``(1, W, H, D)``. Arrays keep their stored dtype (uint8) so the caller can pick the "uint8"
intensity preset. Labels ``(N, 1)`` are class indices; ``(N, K)`` with K > 1 are multi-label
multi-hot vectors. Label names come from ``<stem>.json`` beside the file (``{"label": {"0": ...}}``
as in MedMNIST's INFO, or ``{"label_names": [...]}``), else the known INFO below, else "0".."K-1".
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medtl.data.sidecar import read_sidecar
from medtl.errors import DataError

SPLITS = ("train", "val", "test")

# From MedMNIST v2 INFO (medmnist/info.py): label names and the imaging modality.
KNOWN_INFO: dict[str, dict] = {
    "breastmnist": {"label_names": ["malignant", "normal, benign"], "modality": "US"},
    "retinamnist": {"label_names": ["0", "1", "2", "3", "4"], "modality": "OP"},
    "adrenalmnist3d": {"label_names": ["normal", "hyperplasia"], "modality": "CT"},
}


@dataclass
class MedMNIST:
    records: dict[str, list[dict]]
    label_names: list[str]
    multilabel: bool
    spatial_dims: int
    in_channels: int
    modality: str | None


def _flag(path: Path) -> str:
    return re.sub(r"_(28|64|128|224)$", "", path.stem.lower())


def _sidecar(path: Path) -> dict:
    info = read_sidecar(path)
    if "label" in info and "label_names" not in info:
        labels = info["label"]
        info["label_names"] = [str(labels[k]) for k in sorted(labels, key=int)]
    return info


def _to_channel_first(images: np.ndarray, path: Path) -> tuple[np.ndarray, int, int]:
    """(N, ...) -> (N, C, *spatial) in Scan axis order; returns (array, spatial_dims, channels)."""
    if images.ndim == 3:  # (N, H, W)
        return images.transpose(0, 2, 1)[:, None], 2, 1
    if images.ndim == 4 and images.shape[-1] in (3, 4) and images.shape[1] != images.shape[-1]:
        return images.transpose(0, 3, 2, 1)[:, :3], 2, 3  # (N, H, W, C)
    if images.ndim == 4:  # (N, D, H, W)
        return images.transpose(0, 3, 2, 1)[:, None], 3, 1
    raise DataError(f"unsupported MedMNIST image array shape {images.shape}", path=path)


def load_medmnist(path: str | Path) -> MedMNIST:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"not a readable .npz file ({exc})", path=path, code="unreadable_npz") from exc
    missing = [f"{s}_{kind}" for s in SPLITS for kind in ("images", "labels") if f"{s}_{kind}" not in arrays]
    if missing:
        raise DataError(f"MedMNIST .npz lacks arrays {missing} (has {sorted(arrays)})", path=path)
    info = {**KNOWN_INFO.get(_flag(path), {}), **_sidecar(path)}
    records: dict[str, list[dict]] = {}
    dims = channels = n_classes = None
    multilabel = False
    for split in SPLITS:
        images, spatial_dims, c = _to_channel_first(arrays[f"{split}_images"], path)
        labels = np.asarray(arrays[f"{split}_labels"]).astype(np.int64)
        labels = labels.reshape(len(labels), -1)
        if len(labels) != len(images):
            raise DataError(f"{split}: {len(images)} images but {len(labels)} labels", path=path)
        dims, channels = dims or spatial_dims, channels or c
        multilabel = labels.shape[1] > 1
        k = labels.shape[1] if multilabel else int(labels.max(initial=-1)) + 1
        n_classes = max(n_classes or 0, k)
        records[split] = [
            {
                "id": f"{split}_{i:05d}",
                "image": images[i],
                "label": [int(v) for v in labels[i]] if multilabel else int(labels[i, 0]),
                "patient_id": None,
            }
            for i in range(len(images))
        ]
    names = [str(n) for n in info.get("label_names", [])]
    if len(names) < (n_classes or 0):
        names = [str(i) for i in range(n_classes or 0)]
    return MedMNIST(records, names, multilabel, int(dims), int(channels), info.get("modality"))
