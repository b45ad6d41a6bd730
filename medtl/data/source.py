"""``load_source``: a manifest CSV, a MedMNIST .npz or a dataset folder in one of the field's layouts
(``medtl.data.layouts``) as train/val/test records (ARCHITECTURE.md).

A manifest may have a sidecar ``<manifest stem>.json`` beside it with optional keys
``label_names`` (class order; for segmentation the full list starting with "background") and
``modality`` (e.g. "CT" for NIfTI files, which carry no modality).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medtl.data.manifest import ManifestRow, encode_label, label_vocabulary, read_manifest
from medtl.data.sidecar import read_sidecar
from medtl.data.splits import split_by_patient
from medtl.errors import ConfigError, DataError, MedtlError

TASKS = ("classification", "segmentation")
SPLITS = ("train", "val", "test")


@dataclass
class DataSource:
    records: dict[str, list[dict]]  # "train"/"val"/"test" -> records
    label_names: list[str]
    task: str
    multilabel: bool
    spatial_dims: int
    in_channels: int
    modality: str | None
    source: str
    fingerprint: str
    extra: dict = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {s: len(self.records.get(s, [])) for s in SPLITS}


def load_source(
    path: str | Path, *, task: str, seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15
) -> DataSource:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; use one of {list(TASKS)}")
    path = Path(path)
    if not path.exists():
        raise DataError("data source not found", path=path, code="not_found")
    if path.is_dir():
        return _from_layout(path, task, seed, val_fraction, test_fraction)
    if path.suffix.lower() not in (".npz", ".csv", ".tsv", ".txt"):
        raise DataError("expected a manifest .csv, a MedMNIST .npz or a dataset folder", path=path)
    if path.suffix.lower() == ".npz":
        return _from_npz(path, task)
    from medtl.data.layouts import dicom_csv

    if dicom_csv.matches(path):  # labels keyed by DICOM identifiers, joined to the series under a folder
        return _from_layout(path, task, seed, val_fraction, test_fraction)
    return _from_manifest(path, task, seed, val_fraction, test_fraction)


def _from_npz(path: Path, task: str) -> DataSource:
    from medtl.data.medmnist import load_medmnist
    from medtl.fileio import sha256_file

    if task != "classification":
        raise DataError("a MedMNIST .npz only holds classification labels", path=path)
    m = load_medmnist(path)
    return DataSource(
        m.records, m.label_names, task, m.multilabel, m.spatial_dims, m.in_channels, m.modality,
        str(path), sha256_file(path),
    )




def _assign_splits(rows: list[ManifestRow], strat: list, seed: int, val_f: float, test_f: float) -> list[str]:
    """Explicit splits are kept; blank ones follow their patient, the rest are split by patient."""
    groups = [r.patient_id or f"__row{r.line}" for r in rows]
    fixed: dict[str, str] = {}
    for r, g in zip(rows, groups):
        if r.split:
            if fixed.setdefault(g, r.split) != r.split:
                raise DataError(f"line {r.line}: patient {g!r} appears in splits {fixed[g]!r} and {r.split!r}")
    out = [r.split or fixed.get(g) for r, g in zip(rows, groups)]
    todo = [i for i, s in enumerate(out) if s is None]
    if todo:
        auto = split_by_patient(
            [strat[i] for i in todo], [groups[i] for i in todo],
            seed=seed, val_fraction=val_f, test_fraction=test_f,
        )
        for i, s in zip(todo, auto):
            out[i] = s
    return out


def _from_manifest(path: Path, task: str, seed: int, val_f: float, test_f: float) -> DataSource:
    return _from_rows(read_manifest(path, task=task), read_sidecar(path), path, path.read_bytes(),
                      task, seed, val_f, test_f)


def _from_layout(path: Path, task: str, seed: int, val_f: float, test_f: float) -> DataSource:
    """A folder in one of the field's layouts, or a labels CSV keyed by DICOM identifiers
    (medtl.data.layouts), read as its inferred manifest."""
    from medtl.data.layouts import infer_layout
    from medtl.data.layouts.write import manifest_text

    layout = infer_layout(path, task=task)
    text = manifest_text(layout, layout.root)
    src = _from_rows(layout.rows, layout.sidecar(), path, text.encode(), task, seed, val_f, test_f)
    src.extra["layout"] = layout.summary
    return src


def _from_rows(rows: list[ManifestRow], info: dict, path: Path, content: bytes, task: str, seed: int,
               val_f: float, test_f: float) -> DataSource:
    """Records of manifest rows; ``content`` (the manifest's bytes) keys the fingerprint."""
    multilabel = False
    if task == "classification":
        names, multilabel = label_vocabulary(rows, info.get("label_names"))
        labels = [encode_label(r, names, multilabel, path) for r in rows]
        strat = [tuple(v) if isinstance(v, list) else v for v in labels]
    else:
        names = [str(n) for n in info.get("label_names") or _mask_label_names(rows, path)]
        labels = [None] * len(rows)
        strat = [0] * len(rows)
    try:
        splits = _assign_splits(rows, strat, seed, val_f, test_f)
    except DataError as exc:
        raise DataError(exc.message, path=path) from exc
    records: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for r, lab, s in zip(rows, labels, splits):
        rec = {"id": r.image_text, "image": r.image, "patient_id": r.patient_id}
        if task == "classification":
            rec["label"] = lab
        else:
            rec["mask"] = r.mask
        records[s].append(rec)
    if not records["train"]:
        raise DataError("no training rows after splitting (add rows or a 'split' column)", path=path)
    dims, channels, modality = _header_info(rows[0].image)
    h = hashlib.sha256(content)
    h.update(json.dumps({"task": task, "info": info, "splits": splits}, sort_keys=True).encode())
    return DataSource(
        records, names, task, multilabel, dims, channels, info.get("modality") or modality,
        str(path), h.hexdigest(),
    )


def _read(path: str):
    from medtl.data.read import read_scan

    return read_scan(path)


def _header_info(image: str) -> tuple[int, int, str | None]:
    """(spatial_dims, channels, modality) of one image, from its header where the format allows."""
    from medtl.data.nifti import is_nifti, nifti_header_info
    from medtl.data.raster import is_raster, raster_header_info

    if is_nifti(image):
        return (*nifti_header_info(image), None)
    if is_raster(image):
        return (*raster_header_info(image), None)
    scan = _read(image)  # DICOM file or series folder: decode once
    return scan.spatial_dims, scan.channels, scan.modality


def _mask_label_names(rows: list[ManifestRow], path: Path) -> list[str]:
    """["background", "1", ..., "max label"] from the masks' largest value ({0, 255} masks are binary)."""
    top = 0
    from medtl.data.masks import read_mask

    for r in rows:
        try:
            arr = read_mask(r.mask).array
        except MedtlError as exc:
            raise DataError(f"line {r.line}: mask unreadable: {exc}", path=path) from exc
        if arr.size and (np.any(arr < 0) or not np.allclose(arr, np.round(arr))):
            raise DataError(f"line {r.line}: mask {r.mask} holds non-integer or negative values", path=path)
        values = np.unique(arr)
        binary_255 = len(values) <= 2 and values.max(initial=0) == 255 and set(values.tolist()) <= {0.0, 255.0}
        top = max(top, 1 if binary_255 else int(values.max(initial=0)))
    return ["background"] + [str(i) for i in range(1, max(top, 1) + 1)]
