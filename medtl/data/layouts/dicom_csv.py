"""Labels keyed by DICOM identifiers: a CSV with ``SeriesInstanceUID``, ``StudyInstanceUID`` or
``AccessionNumber`` and a ``label`` column (no ``image`` column), joined to the DICOM series found
under a folder: the CSV's own folder, or ``dicom_folder`` in its sidecar JSON (relative to the CSV);
or, with ``dicomweb`` in the sidecar (a ``dicomweb://HOST:PORT/PATH`` server), to the series the
server finds for each identifier (QIDO-RS), retrieved once into the data cache (medtl.pacs.cache).

The most specific identifier present is the key. A study-level key (StudyInstanceUID,
AccessionNumber) labels every series of the study, and the study is the patient group, so its
series never straddle splits. Rows matching no series, and series matching no row, are listed
(``Layout.left_out``) and counted in the summary, never dropped silently. Optional columns
``patient_id`` and ``split`` are kept.
"""

from __future__ import annotations

import csv
from pathlib import Path

from medtl.data.layouts.base import Layout, check_task, make_row, plural, scan_paths
from medtl.data.manifest import SPLIT_VALUES
from medtl.data.sidecar import read_sidecar
from medtl.errors import DataError, MedtlError

KEYS = ("seriesinstanceuid", "studyinstanceuid", "accessionnumber")  # most specific first
TAG = {"seriesinstanceuid": "SeriesInstanceUID", "studyinstanceuid": "StudyInstanceUID",
       "accessionnumber": "AccessionNumber"}


def _header(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return [h.strip().lower() for h in next(csv.reader(fh), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def matches(path: Path) -> bool:
    """A CSV file keyed by a DICOM identifier instead of an ``image`` path."""
    if not path.is_file() or path.suffix.lower() != ".csv":
        return False
    header = _header(path)
    return "image" not in header and any(k in header for k in KEYS)


def _read_rows(path: Path, key: str) -> list[tuple[int, dict]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        reader.fieldnames = [(h or "").strip().lower() for h in reader.fieldnames or []]
        rows = [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}) for row in reader]
    rows = [(line, cells) for line, cells in rows if any(cells.values())]
    for line, cells in rows:
        if not cells.get(key):
            raise DataError(f"line {line}: empty {TAG[key]}", path=path)
        if not cells.get("label"):
            raise DataError(f"line {line}: empty 'label' cell", path=path)
        if cells.get("split") and cells["split"].lower() not in SPLIT_VALUES:
            raise DataError(f"line {line}: unknown split {cells['split']!r} (use train, val or test)", path=path)
    return rows


def _series_keys(folder: Path, key: str) -> tuple[dict[str, list[str]], list[str]]:
    """identifier -> series paths under ``folder``, and 'path: reason' of what cannot be a row."""
    from medtl.data.dicom_header import dcmread
    paths, left_out = scan_paths(folder, dicom_only=True)
    found: dict[str, list[str]] = {}
    for path in paths:
        first = path if path.is_file() else next(p for p in sorted(path.iterdir()) if p.is_file())
        try:
            value = str(dcmread(first, header_only=True)[0].get(TAG[key], "") or "").strip()
        except MedtlError as exc:
            left_out.append(f"{path}: {exc.message}")
            continue
        found.setdefault(value, []).append(str(path))
    return found, left_out


def _server_series(path: Path, server: str, key: str, values: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """identifier -> cached local folders of the series a DICOMweb server holds for it (one QIDO-RS
    query per identifier; each series retrieved once into the data cache)."""
    from medtl.pacs.cache import cached_series, series_url
    from medtl.pacs.client import make_client
    from medtl.pacs.fetch import query_series
    from medtl.pacs.url import parse_dicomweb_url

    try:
        url = parse_dicomweb_url(server)
        client = make_client(url)
    except MedtlError as exc:
        raise DataError(f"sidecar 'dicomweb': {exc.message}", path=path) from None
    found: dict[str, list[str]] = {}
    left_out: list[str] = []
    for value in dict.fromkeys(values):
        try:
            refs = query_series(client, {TAG[key]: value})
            for ref in refs:
                link = f"{series_url(server, ref.series_uid)}&StudyInstanceUID={ref.study_uid}"
                found.setdefault(value, []).append(str(cached_series(link)))
        except MedtlError as exc:  # this identifier's series could not be had: listed, the rest go on
            left_out.append(f"{path}: {TAG[key]} {value}: {exc.message} [{exc.code}]")
            found.pop(value, None)
    return found, left_out


def infer(path: Path, task: str | None) -> Layout:
    task = check_task(task, "classification", "a labels CSV keyed by DICOM identifiers", path, ("classification",))
    header = _header(path)
    if "label" not in header:
        raise DataError(f"line 1: no 'label' column; found columns {header}", path=path)
    key = next(k for k in KEYS if k in header)
    info = read_sidecar(path)
    server = info.get("dicomweb")
    records = _read_rows(path, key)
    if server:
        from medtl.pacs.cache import cache_root

        folder = cache_root()
        series, left_out = _server_series(path, str(server), key, [cells[key] for _, cells in records])
        where = "on the DICOMweb server"
    else:
        folder = (path.parent / str(info.get("dicom_folder", "."))).resolve()
        if not folder.is_dir():
            raise DataError(f"DICOM folder {folder} not found (sidecar 'dicom_folder')", path=path)
        series, left_out = _series_keys(folder, key)
        where = f"under {folder}"
    rows, matched = [], set()
    for line, cells in records:
        value = cells[key]
        if value not in series:
            left_out.append(f"{path} line {line}: no series with {TAG[key]} {value} {where}")
            continue
        matched.add(value)
        split = SPLIT_VALUES.get(cells.get("split", "").lower())
        group = cells.get("patient_id") or (value if key != "seriesinstanceuid" else None)
        for series_path in series[value]:
            row = make_row(len(rows) + 1, folder, series_path, label=cells["label"], split=split)
            row.patient_id = group
            rows.append(row)
    n_rows = len(rows)
    unmatched = [p for value, ps in series.items() if value not in matched for p in ps]
    left_out += [f"{p}: series not in {path.name}" for p in unmatched]
    if not rows:
        raise DataError(f"no row matched a DICOM series {where} by {TAG[key]}", path=path)
    missing = sum(1 for s in left_out if " line " in s)
    summary = (f"found {plural(n_rows, 'series')} labelled by {TAG[key]} {where}"
               f"; {plural(missing, 'CSV row')} without a series"
               + ("" if server else f", {plural(len(unmatched), 'series')} without a row"))
    return Layout("dicom-uid-csv", folder, task, rows, summary, info.get("label_names"), info.get("modality"),
                  left_out)
