"""Active learning: pick the next ``budget`` cases for clinicians to review from a scoring output.

Reads ``OUT/predictions.csv`` (ARCHITECTURE.md "medtl.infer"). Failed cases (``status`` other
than ``ok``) and, given the review database, cases that already have a decision are skipped.

- ``uncertainty``: highest ``uncertainty`` first (classification: normalised entropy;
  segmentation: the per-case uncertainty of docs/scoring.md); ties by lowest ``confidence``, then
  ``case_id``. Needs a scoring output with uncertainty values.
- ``flags-first``: cases with segmentation quality flags (``flags`` column) first, then the rest;
  each group in the ``uncertainty`` order.
- ``random``: a seeded random sample (the order of the CSV rows does not matter).
"""

from __future__ import annotations

import csv
import math
import random
import sqlite3
from pathlib import Path

from medtl.errors import DataError, MedtlError

STRATEGIES = ("uncertainty", "flags-first", "random")
OUTPUT_COLUMNS = ("case_id", "source", "predicted_label", "uncertainty", "flags", "rank")


def _float(value: str | None) -> float | None:
    try:
        out = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    return out if out is not None and math.isfinite(out) else None


def read_predictions(scores_dir: str | Path) -> list[dict]:
    """Rows of ``scores_dir/predictions.csv`` with status ``ok``, as dicts (uncertainty and
    confidence parsed to floats or None)."""
    path = Path(scores_dir) / "predictions.csv"
    if not path.is_file():
        raise MedtlError("no predictions.csv: not a medtl scoring output folder", path=scores_dir, code="usage")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "case_id" not in reader.fieldnames:
                raise DataError("predictions.csv has no case_id column", path=path)
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"unreadable predictions.csv: {exc}", path=path) from exc
    out = []
    for row in rows:
        if (row.get("status") or "ok").strip().lower() != "ok" or not row.get("case_id"):
            continue
        row = dict(row)
        row["uncertainty"] = _float(row.get("uncertainty"))
        row["confidence"] = _float(row.get("confidence"))
        row["flags"] = row.get("flags") or ""
        out.append(row)
    return out


def reviewed_case_ids(db_path: str | Path) -> set[str]:
    """Case ids with at least one row in the review database's ``decisions`` table (opened
    read-only; the database is never created or modified here)."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise MedtlError("review database not found", path=db_path, code="usage")
    try:
        con = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            return {r[0] for r in con.execute("SELECT DISTINCT case_id FROM decisions")}
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise DataError(f"not a medtl review database: {exc}", path=db_path) from exc


def _uncertainty_order(row: dict) -> tuple:
    confidence = row["confidence"] if row["confidence"] is not None else math.inf
    return (-row["uncertainty"], confidence, row["case_id"])


def _flags_first_order(row: dict) -> tuple:
    return (not row["flags"], *_uncertainty_order(row))


def select_cases(scores_dir: str | Path, budget: int, strategy: str = "uncertainty", seed: int = 0,
                 exclude_reviewed_db: str | Path | None = None, out: str | Path | None = None) -> list[dict]:
    """The ``budget`` cases to review next, as dicts with ``OUTPUT_COLUMNS`` (rank from 1).

    Fewer are returned when fewer cases are eligible. With ``out``, the same rows are written
    as CSV atomically.
    """
    if strategy not in STRATEGIES:
        raise MedtlError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}", code="usage")
    if budget < 1:
        raise MedtlError(f"budget must be a positive number of cases (got {budget})", code="usage")
    rows = read_predictions(scores_dir)
    if exclude_reviewed_db is not None:
        done = reviewed_case_ids(exclude_reviewed_db)
        rows = [r for r in rows if r["case_id"] not in done]
    if strategy != "random":
        if rows and all(r["uncertainty"] is None for r in rows):
            raise DataError("predictions.csv has no uncertainty values (a segmentation output scored before medtl "
                            "wrote them? score it again); use --strategy random",
                            path=Path(scores_dir) / "predictions.csv")
        rows = [r for r in rows if r["uncertainty"] is not None]
        key = _uncertainty_order if strategy == "uncertainty" else _flags_first_order
        picked = sorted(rows, key=key)[:budget]
    else:
        ordered = sorted(rows, key=lambda r: r["case_id"])
        picked = random.Random(seed).sample(ordered, min(budget, len(ordered)))
    result = [{"case_id": r["case_id"], "source": r.get("source", ""),
               "predicted_label": r.get("predicted_label", ""), "uncertainty": r["uncertainty"],
               "flags": r["flags"], "rank": i} for i, r in enumerate(picked, 1)]
    if out is not None:
        write_selection(out, result)
    return result


def write_selection(path: str | Path, rows: list[dict]) -> None:
    """Write the selection CSV atomically (columns ``OUTPUT_COLUMNS``)."""
    from medtl.fileio import atomic_write

    with atomic_write(path, "w") as fh:
        writer = csv.DictWriter(fh, fieldnames=OUTPUT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "uncertainty": "" if r["uncertainty"] is None else f"{r['uncertainty']:.6g}"})
