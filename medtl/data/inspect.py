"""``inspect_path``: what ``medtl inspect --json`` prints, one object per scan.

Headers are read once to group DICOM series (``discover_scans``); pixels are then decoded one
scan at a time and dropped, so memory stays at one scan however large the folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medtl.data.discover import ScanRef, discover_scans, read_ref
from medtl.errors import ScanReadError


def inspect_ref(ref: ScanRef) -> dict:
    """The JSON object for one scan: read it fully (so decoding problems show up here)."""
    record = {"id": ref.id, "path": ref.path, "format": ref.format, "modality": None, "shape": None,
              "spacing": None, "affine": None, "channels": None, "n_files": len(ref.files), "error": None}
    notes = [part_note(ref)] if ref.part else []
    if notes:
        record["warnings"] = notes
    try:
        scan = read_ref(ref)
    except ScanReadError as exc:
        record["error"] = {"code": exc.code, "message": exc.message}
        return record
    record.update(
        modality=scan.modality,
        shape=list(scan.spatial_shape),
        spacing=[round(float(s), 6) for s in scan.spacing],
        affine=np.round(scan.affine, 6).tolist(),
        channels=scan.channels,
    )
    if scan.meta.get("warnings") or notes:
        record["warnings"] = notes + list(scan.meta.get("warnings") or [])
    return record


def part_note(ref: ScanRef) -> str:
    """What ``medtl inspect`` says about one part of a mixed series."""
    note = f"part {ref.part} of a series mixing image sizes or orientations: {ref.part_info}"
    if ref.localizer:
        note += "; localizer-like (fewer than 3 slices): not scored unless asked (medtl score --localizers)"
    return note


def inspect_path(path: str | Path) -> list[dict]:
    """One record per scan under ``path`` (file or folder, recursive), sorted by path."""
    return [inspect_ref(ref) for ref in discover_scans(path)]


def format_table(records: list[dict]) -> str:
    """A readable fixed-width table of ``inspect_path`` records."""
    header = ("id", "format", "modality", "shape", "spacing (mm)", "files", "status")
    rows = [header]
    for r in records:
        status = "ok" if r["error"] is None else f"{r['error']['code']}: {r['error']['message']}"
        if any("localizer-like" in w for w in r.get("warnings") or []):
            status += " (localizer part: not scored)"
        rows.append((
            r["id"],
            r["format"],
            r["modality"] or "-",
            "x".join(map(str, r["shape"])) + (f" ({r['channels']} ch)" if (r["channels"] or 1) > 1 else "")
            if r["shape"] else "-",
            " x ".join(f"{s:.3g}" for s in r["spacing"]) if r["spacing"] else "-",
            str(r["n_files"]),
            status,
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1] for row in rows]
    failed = sum(r["error"] is not None for r in records)
    lines.append(f"{len(records)} scan(s), {len(records) - failed} ok, {failed} failed")
    return "\n".join(lines)


def layout_line(path: str | Path) -> str | None:
    """"layout: <what medtl train --data would read>" for a folder, None for a file."""
    from medtl.data.layouts import infer_layout
    from medtl.errors import DataError

    if not Path(path).is_dir():
        return None
    try:
        return f"layout: {infer_layout(path).summary}"
    except DataError as exc:
        return f"layout: none usable by `medtl train --data` ({exc.message})"


def inspect_dicomweb(url: str, *, quiet: bool = False) -> list[dict]:
    """One record per series of a ``dicomweb://`` query, retrieved into a private temporary folder
    (deleted before returning); ids are SeriesInstanceUIDs, paths the redacted query URL."""
    from medtl.pacs.source import SeriesSource

    records = []
    with SeriesSource(quiet=quiet) as source:
        for series in source.fetch(url):
            uid, where = series.ref.series_uid, series.url.redacted
            if series.folder is None:
                records.append({"id": uid, "path": where, "format": "dicom", "modality": series.ref.modality or None,
                                "shape": None, "spacing": None, "affine": None, "channels": None, "n_files": 0,
                                "error": {"code": series.error.code, "message": series.error.message}})
                continue
            refs = discover_scans(series.folder)
            for ref in refs:
                record = inspect_ref(ref)
                record.update(id=uid if len(refs) == 1 else f"{uid}/{ref.id}", path=where)
                records.append(record)
    return records
