"""The manifest CSV (and sidecar JSON) a layout stands for: what ``medtl manifest`` writes."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from medtl.data.layouts.base import Layout
from medtl.data.masks import MASK_SEPARATOR
from medtl.errors import DataError


def _path_text(path: str, base: Path) -> str:
    """Relative to ``base`` when inside it (a manifest beside its data moves with it), else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path(os.path.abspath(base))).as_posix()
    except ValueError:
        return str(absolute)


def manifest_text(layout: Layout, base: Path) -> str:
    """CSV text with columns image[, label][, mask][, patient_id][, split]; paths relative to ``base``
    where possible."""
    columns = ["image"]
    columns += ["label"] if any(r.label for r in layout.rows) else []
    columns += ["mask"] if any(r.mask for r in layout.rows) else []
    columns += ["patient_id"] if any(r.patient_id for r in layout.rows) else []
    columns += ["split"] if any(r.split for r in layout.rows) else []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in layout.rows:
        masks = [r.mask] if isinstance(r.mask, str) else list(r.mask or [])
        cells = {"image": _path_text(r.image, base), "label": r.label or "", "split": r.split or "",
                 "patient_id": r.patient_id or "",
                 "mask": MASK_SEPARATOR.join(_path_text(m, base) for m in masks)}
        writer.writerow([cells[c] for c in columns])
    return out.getvalue()


def write_manifest(layout: Layout, out: str | Path, *, force: bool = False) -> list[Path]:
    """Write ``out`` (and its sidecar ``<stem>.json`` when the layout names labels or a modality)
    atomically; an existing file is kept unless ``force``. Returns the paths written."""
    from medtl.fileio import atomic_write_text

    out = Path(out)
    root = Path(os.path.abspath(layout.root))
    if Path(os.path.abspath(out)).is_relative_to(root):
        raise DataError("the manifest would be written inside the data folder; write it elsewhere",
                        path=out, code="usage")
    written = [out]
    sidecar = layout.sidecar()
    if sidecar:
        written.append(out.with_suffix(".json"))
    existing = [p for p in written if p.exists()]
    if existing and not force:
        raise DataError("already exists; pass --force to overwrite it", path=existing[0], code="usage")
    atomic_write_text(out, manifest_text(layout, out.parent))
    if sidecar:
        atomic_write_text(written[1], json.dumps(sidecar, indent=2) + "\n")
    return written
