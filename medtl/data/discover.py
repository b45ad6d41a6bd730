"""Finding the scans under a folder: one :class:`ScanRef` per scan, without decoding pixels.

DICOM files are grouped by (folder, SeriesInstanceUID) from their headers only, so a folder with
several series yields several refs and never one mixed stack; a series mixing image sizes or
orientations yields one ref per consistent part (``<series>#1``, ``<series>#2``; series_parts.py);
every other file is its own ref.
Files that are not scans keep a ref with ``error`` set, so callers can report them. Hidden
files and folders (names starting with ``.``) are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from medtl.data.read import detect_format, unknown_format_error
from medtl.data.scan import Scan
from medtl.errors import ScanReadError


@dataclass
class ScanRef:
    id: str  # path relative to the root (posix); "<folder>#<SeriesInstanceUID>" when a folder holds several series
    path: str  # the file, or the series folder
    format: str  # "dicom" | "nifti" | "image" | "unknown" (not a scan: error is set)
    files: list[str] = field(default_factory=list)
    series_uid: str | None = None
    error: ScanReadError | None = None
    part: int | None = None  # k of "<series>#k": one consistent part of a mixed series (series_parts.py)
    part_info: str | None = None  # what the part holds, e.g. "2 slices 256x256, orientation [...]"
    localizer: bool = False  # a part of fewer than 3 slices: listed, not scored unless asked


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _rel(path: Path, root: Path) -> str:
    if root.is_file():
        return root.name
    rel = path.relative_to(root).as_posix()
    return root.name if rel == "." else rel


def discover_scans(root: str | Path) -> list[ScanRef]:
    """Every scan under ``root`` (a file or a folder, recursive), sorted by path."""
    from medtl.data.dicom_header import read_header

    root = Path(root)
    if not root.exists():
        raise ScanReadError("not_found", "no such file or folder", path=root)
    refs: list[ScanRef] = []
    series: dict[tuple[Path, str], list] = defaultdict(list)
    for file in _files(root):
        fmt = detect_format(file)
        if fmt == "dicom":
            try:
                header = read_header(file)
            except ScanReadError as exc:
                refs.append(ScanRef(_rel(file, root), str(file), "dicom", [str(file)], None, exc))
                continue
            series[(file.parent, header.series_uid)].append(header)
        elif fmt == "unknown":
            refs.append(ScanRef(_rel(file, root), str(file), "unknown", [str(file)], None, unknown_format_error(file)))
        else:
            refs.append(ScanRef(_rel(file, root), str(file), fmt, [str(file)]))
    per_folder: dict[Path, int] = defaultdict(int)
    for folder, _ in series:
        per_folder[folder] += 1
    for (folder, uid), headers in series.items():
        if len(headers) == 1:
            path = Path(headers[0].path)
            ref_id = _rel(path, root)
        else:
            path = folder
            ref_id = _rel(folder, root) + (f"#{uid}" if per_folder[folder] > 1 else "")
        refs.extend(_series_refs(ref_id, str(path), uid, headers))
    return sorted(refs, key=lambda r: (r.path, r.id))


def _series_refs(ref_id: str, path: str, uid: str, headers: list) -> list[ScanRef]:
    """One ref for a consistent series; ``<id>#1``, ``<id>#2``, ... for the parts of a mixed one."""
    from medtl.data.series_parts import MIN_PART_SLICES, describe, n_frames, split_parts

    parts = split_parts(headers)
    if len(parts) == 1:
        return [ScanRef(ref_id, path, "dicom", sorted(h.path for h in headers), uid)]
    return [ScanRef(f"{ref_id}#{k}", path, "dicom", sorted(h.path for h in part), uid, part=k,
                    part_info=describe(part), localizer=n_frames(part) < MIN_PART_SLICES)
            for k, part in enumerate(parts, 1)]


def read_ref(ref: ScanRef, *, canonical: bool = False, allow_nonuniform: bool = False) -> Scan:
    """Read exactly the files of ``ref`` (one series of a folder holding several)."""
    if ref.error is not None:
        raise ref.error
    if ref.format == "dicom":
        from medtl.data.dicom import read_dicom_files
        from medtl.data.read import to_canonical

        scan = read_dicom_files(ref.files, source=ref.path, allow_nonuniform=allow_nonuniform)
        return to_canonical(scan) if canonical else scan
    from medtl.data.read import read_scan

    return read_scan(ref.path, canonical=canonical)
