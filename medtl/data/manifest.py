"""Manifest CSV parsing: one row per image, validated with the CSV file and line in every error.

Columns: ``image`` (a file, a DICOM series folder or one DICOMweb series
``dicomweb://HOST:PORT/PATH?StudyInstanceUID=...&SeriesInstanceUID=...``, see medtl.pacs.cache), ``label``
(class name or index; multi-label as ``"a;b"``), ``mask`` (segmentation; ``"a;b"`` lists binary masks merged as
their union), optional ``patient_id`` and ``split`` (train/val/test,
blank = assign automatically). Relative paths are relative to the CSV's folder. Extra columns
are ignored. Column names are case-insensitive.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from medtl.data.masks import split_mask_cell
from medtl.errors import DataError

SPLIT_VALUES = {"train": "train", "val": "val", "validation": "val", "valid": "val", "test": "test"}


@dataclass
class ManifestRow:
    line: int
    image: str  # absolute path
    image_text: str  # as written in the CSV (the record id)
    label: str | None
    mask: str | list[str] | None  # several files (``a;b`` in the CSV) are merged as a union when read
    patient_id: str | None
    split: str | None


def _resolve(base: Path, text: str) -> Path:
    p = Path(text).expanduser()
    return p if p.is_absolute() else base / p


def _image_path(base: Path, image: str, fail) -> Path:
    """The local file or folder of an ``image`` cell; a ``dicomweb://`` series is retrieved once into
    the data cache (medtl.pacs.cache)."""
    from medtl.errors import MedtlError
    from medtl.pacs import is_dicomweb_url

    if is_dicomweb_url(image):
        from medtl.pacs.cache import cached_series

        try:
            return cached_series(image)
        except MedtlError as exc:
            raise fail(f"{exc.message} [{exc.code}]") from None
    image_path = _resolve(base, image)
    if not image_path.exists():
        raise fail(f"image not found: {image_path}")
    return image_path


def read_manifest(path: str | Path, *, task: str) -> list[ManifestRow]:
    """Parse and validate a manifest for ``task`` ("classification" or "segmentation")."""
    path = Path(path)
    if not path.is_file():
        raise DataError("manifest file not found", path=path, code="not_found")
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
            reader.fieldnames = header
            raw = [(reader.line_num, row) for row in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"not a readable CSV file ({exc})", path=path) from exc
    needed = ["image", "label" if task == "classification" else "mask"]
    missing = [c for c in needed if c not in header]
    if missing:
        raise DataError(
            f"line 1: missing column(s) {missing} for task {task!r}; found columns {header}", path=path
        )
    base = path.parent
    rows: list[ManifestRow] = []
    seen: dict[str, int] = {}
    for line, row in raw:
        cells = {k: (v or "").strip() for k, v in row.items() if k}
        if not any(cells.values()):
            continue  # blank line
        rows.append(_parse_row(path, base, line, cells, task, seen))
    if not rows:
        raise DataError("manifest has no rows", path=path)
    return rows


def _parse_row(path: Path, base: Path, line: int, cells: dict, task: str, seen: dict) -> ManifestRow:
    def fail(msg: str) -> DataError:
        return DataError(f"line {line}: {msg}", path=path)

    image = cells.get("image", "")
    if not image:
        raise fail("empty 'image' cell")
    image_path = _image_path(base, image, fail)
    key = str(image_path.resolve())
    if key in seen:
        raise fail(f"image {image!r} is listed twice (first on line {seen[key]})")
    seen[key] = line
    label = cells.get("label") or None
    if task == "classification" and label is None:
        raise fail("empty 'label' cell")
    mask = _masks(base, cells.get("mask") or "", fail)
    if mask is None and task == "segmentation":
        raise fail("empty 'mask' cell")
    split = cells.get("split") or None
    if split is not None:
        if split.lower() not in SPLIT_VALUES:
            raise fail(f"unknown split {split!r} (use train, val or test, or leave it blank)")
        split = SPLIT_VALUES[split.lower()]
    return ManifestRow(line, str(image_path), image, label, mask, cells.get("patient_id") or None, split)


def _masks(base: Path, text: str, fail) -> str | list[str] | None:
    """The mask path, or the list of paths of a ``a;b`` cell (merged when read, medtl.data.masks)."""
    paths = []
    for part in split_mask_cell(text):
        mask_path = _resolve(base, part)
        if not mask_path.exists():
            raise fail(f"mask not found: {mask_path}")
        paths.append(str(mask_path))
    if not paths:
        return None
    return paths[0] if len(paths) == 1 else paths


def label_vocabulary(rows: list[ManifestRow], names: list[str] | None = None) -> tuple[list[str], bool]:
    """Class names in index order and whether the task is multi-label.

    All-integer labels are indices (names "0".."max"); otherwise the sorted set of names, unless
    ``names`` (from a sidecar JSON) fixes the order.
    """
    multilabel = any(";" in (r.label or "") for r in rows)
    tokens = sorted({t.strip() for r in rows for t in (r.label or "").split(";") if t.strip()})
    if names:
        return list(names), multilabel
    if tokens and all(t.isdigit() for t in tokens):
        return [str(i) for i in range(max(int(t) for t in tokens) + 1)], multilabel
    return tokens, multilabel


def encode_label(row: ManifestRow, names: list[str], multilabel: bool, path: Path) -> int | list[int]:
    """Class index, or a multi-hot list of length ``len(names)`` for multi-label tasks."""
    index = {n: i for i, n in enumerate(names)}
    tokens = [t.strip() for t in (row.label or "").split(";") if t.strip()]
    idx = []
    for t in tokens:
        if t in index:
            idx.append(index[t])
        elif t.isdigit() and int(t) < len(names):
            idx.append(int(t))
        else:
            raise DataError(f"line {row.line}: unknown label {t!r} (known: {names})", path=path)
    if multilabel:
        return [1 if i in idx else 0 for i in range(len(names))]
    if len(idx) != 1:
        raise DataError(f"line {row.line}: expected one label, got {row.label!r}", path=path)
    return idx[0]
