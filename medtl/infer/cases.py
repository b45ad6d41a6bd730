"""Collect the cases to score from files, folders (recursive) or a manifest CSV.

A case is one scan: a file, or one DICOM series (a folder holding two series gives two cases).
Its ``case_id`` comes from the path relative to its input root (``/`` -> ``__``, unsafe
characters removed) or, with ``anonymise_ids``, from a salted hash. Never from DICOM tags, so
no PatientName/PatientID can leak into file names.

A ``dicomweb://`` input (needs a :class:`medtl.pacs.source.SeriesSource`) gives one case per
retrieved series, read from the private temporary folder ``<tmp>/<SeriesInstanceUID>/``: its
``source`` is the SeriesInstanceUID (what the same series in a folder named by its UID gives), its
``root`` the query URL with identifying filter values redacted. A series that could not be
retrieved is a failed case with the fetch error's code.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from medtl.errors import DataError, MedtlError, ScanReadError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SUFFIXES = (".nii.gz", ".nii", ".dcm", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".npy")


@dataclass
class Case:
    """One unit of scoring work."""

    case_id: str
    source: str  # path relative to ``root`` (POSIX); "." when the input is the series folder itself
    root: str  # absolute input root
    path: str  # absolute file or series folder
    files: list[str] = field(default_factory=list)
    format: str = ""
    series_uid: str | None = None
    error: MedtlError | None = None  # discovery (or the DICOMweb retrieve) already knows it cannot be read
    ref: object | None = None  # medtl.data.ScanRef when it came from discovery

    def to_dict(self) -> dict:
        return {"case_id": self.case_id, "source": self.source, "root": self.root}


def safe_id(relative: str) -> str:
    """``a/b c/x.nii.gz`` -> ``a__b_c__x``: file-name safe, stable, readable."""
    text = relative
    low = text.lower()
    for suffix in _SUFFIXES:
        if low.endswith(suffix):
            text = text[: -len(suffix)]
            break
    parts = [_UNSAFE.sub("_", p).strip("._") for p in Path(text).as_posix().split("/") if p not in ("", ".")]
    return "__".join(p for p in parts if p) or "case"


def hashed_id(salt: str, key: str) -> str:
    return "c" + hashlib.sha256(f"{salt}\x00{key}".encode()).hexdigest()[:16]


def _is_manifest(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".csv"


def _from_manifest(csv_path: Path) -> list[Case]:
    from medtl.data import discover_scans

    root = csv_path.parent.resolve()
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read manifest: {exc}", path=csv_path) from exc
    if not rows or "image" not in rows[0]:
        raise DataError("manifest needs an 'image' column", path=csv_path, code="usage")
    cases = []
    for line, row in enumerate(rows, start=2):
        image = (row.get("image") or "").strip()
        if not image:
            raise DataError(f"line {line}: empty 'image'", path=csv_path, code="usage")
        target = (root / image).resolve() if not Path(image).is_absolute() else Path(image)
        rel = _relative(target, root)
        if not target.exists():
            err = ScanReadError("not_found", "file listed in the manifest does not exist", path=target)
            cases.append(Case("", rel, str(root), str(target), error=err))
            continue
        for ref in discover_scans(target):
            cases.append(_case_from_ref(ref, root))
    return cases


def _relative(target: Path, root: Path) -> str:
    try:
        return target.relative_to(root).as_posix()
    except ValueError:
        return target.as_posix().lstrip("/")


def _case_from_ref(ref, root: Path) -> Case:
    path = Path(ref.path).resolve()
    return Case("", _relative(path, root), str(root), str(path), files=list(ref.files or []),
                format=ref.format, series_uid=ref.series_uid, error=ref.error, ref=ref)


def _from_dicomweb(url: str, source) -> list[Case]:
    from medtl.data import discover_scans

    if source is None:
        raise MedtlError("DICOMweb inputs are not supported here", path=url, code="usage")
    cases = []
    for series in source.fetch(url):
        root = series.url.redacted
        if series.folder is None:
            uid = series.ref.series_uid
            cases.append(Case("", uid, root, str(series.root / uid), format="dicom", series_uid=uid,
                              error=series.error))
            continue
        for ref in discover_scans(series.folder):
            case = _case_from_ref(ref, series.root)
            case.root = root
            cases.append(case)
    return cases


def collect_cases(inputs: list[str | Path], *, anonymise_ids: bool = False, salt: str = "",
                  localizers: bool = False, source=None) -> list[Case]:
    """Every case under ``inputs`` in a deterministic order, with unique ids; ``dicomweb://``
    inputs are retrieved through ``source`` (a :class:`medtl.pacs.source.SeriesSource`).

    Localizer-like parts of mixed DICOM series (fewer than 3 slices) are listed on stderr and left
    out unless ``localizers``. Raises :class:`MedtlError` (code ``usage``) when an input does not exist.
    """
    from medtl.data import discover_scans
    from medtl.pacs import is_dicomweb_url

    cases: list[Case] = []
    for item in inputs:
        if is_dicomweb_url(item):
            cases.extend(_from_dicomweb(str(item), source))
            continue
        path = Path(item)
        if not path.exists():
            raise MedtlError("input does not exist", path=path, code="usage")
        if _is_manifest(path):
            cases.extend(_from_manifest(path))
            continue
        root = path.resolve() if path.is_dir() else path.resolve().parent
        cases.extend(_case_from_ref(ref, root) for ref in discover_scans(path))
    _assign_ids(cases, anonymise_ids=anonymise_ids, salt=salt)
    return cases if localizers else _drop_localizers(cases)


def _drop_localizers(cases: list[Case]) -> list[Case]:
    import sys

    kept = []
    for case in cases:
        if getattr(case.ref, "localizer", False):
            print(f"not scored: {case.path} part {case.ref.part} ({case.ref.part_info}): localizer-like part of a "
                  "mixed series (--localizers scores it)", file=sys.stderr)
        else:
            kept.append(case)
    return kept


def _assign_ids(cases: list[Case], *, anonymise_ids: bool, salt: str) -> None:
    by_path: dict[str, set] = {}
    for case in cases:
        by_path.setdefault(case.path, set()).add(case.series_uid)
    seen: dict[str, int] = {}
    for case in cases:
        key = case.source if case.source != "." else Path(case.root).name
        if len(by_path[case.path]) > 1 and case.series_uid:  # several series in one folder
            key = f"{key}/s{hashlib.sha256(case.series_uid.encode()).hexdigest()[:8]}"
        if getattr(case.ref, "part", None):  # one part of a mixed series
            key = f"{key}/p{case.ref.part}"
        if anonymise_ids:
            base = hashed_id(salt, key)
        else:
            base = safe_id(key)
        n = seen.get(base, 0) + 1
        seen[base] = n
        case.case_id = base if n == 1 else f"{base}-{n}"
