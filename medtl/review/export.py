"""Export review decisions: a training manifest for ``medtl train`` and the audit log as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from pathlib import Path

from medtl.errors import DataError
from medtl.fileio import atomic_write_text
from medtl.review.actions import MASK_OK
from medtl.review.scores import ScoreRun, load_scores
from medtl.review.store import COLUMNS, DecisionStore


def resolve_source(run: ScoreRun, case_id: str) -> str:
    """Where a case's input is, as a manifest names it: the absolute path of its ``source``
    relative to its input root (the case's ``root`` in run_manifest.json, else each of the run's
    ``inputs``; a root that is a file stands for its folder; source ``"."`` is the root itself,
    e.g. a DICOM series folder), or for a case scored from a DICOMweb query the URL of its series
    (``dicomweb://...?SeriesInstanceUID=<source>``, which ``medtl train`` retrieves into its cache)."""
    from medtl.pacs import is_dicomweb_url

    source = run.cases[case_id].source
    entry = (run.manifest.get("cases") or {}).get(case_id) or {}
    if is_dicomweb_url(entry.get("root")):
        from medtl.pacs.cache import series_url

        return series_url(entry["root"], source)
    roots = [entry["root"]] if entry.get("root") else []
    roots += [r if Path(r).is_dir() else str(Path(r).parent) for r in run.inputs]
    candidates = [Path(source)] if Path(source).is_absolute() else [Path(r) / source for r in roots]
    for path in candidates:
        if path.exists():
            return str(path.resolve())
    raise DataError(f"input {source!r} of case {case_id!r} not found under the run's input roots {roots}",
                    path=run.root / "run_manifest.json")


def reviewed_records(run: ScoreRun, store: DecisionStore) -> list[dict]:
    """Manifest rows for the cases whose latest decision confirms or corrects the model.

    Classification: ``accept`` -> the predicted label, ``correct`` -> the reviewer's label,
    ``reject`` -> left out (a rejection without a correct label cannot train anything).
    Segmentation: only masks marked acceptable, with the scored mask (input geometry).
    """
    records = []
    for case_id, d in sorted(store.current(run.model_id).items()):
        case = run.cases.get(case_id)
        if case is None:
            continue  # a decision about a case this run does not hold
        image = resolve_source(run, case_id)
        if run.task == "classification":
            if d.action in ("accept", "correct") and d.new_value:
                records.append({"image": image, "label": d.new_value})
        elif d.new_value == MASK_OK:
            mask = run.root / "masks" / f"{case_id}.nii.gz"
            if not mask.is_file():
                raise DataError(f"accepted case {case_id!r} has no mask file", path=mask)
            records.append({"image": image, "mask": str(mask.resolve())})
    return records


def _csv_text(fieldnames: list[str], rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fieldnames, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def export_manifest(db: str | Path, scores_dir: str | Path, out_csv: str | Path) -> int:
    """Write the reviewed cases as ``image,label,patient_id,split`` (classification) or
    ``image,mask,patient_id,split`` (segmentation); patient_id and split stay empty (the scoring
    output holds no patient identity; ``medtl train`` then splits by row). Returns the row count."""
    run = load_scores(scores_dir)
    records = reviewed_records(run, DecisionStore(_existing(db)))
    target = "label" if run.task == "classification" else "mask"
    atomic_write_text(out_csv, _csv_text(["image", target, "patient_id", "split"], records))
    return len(records)


def export_audit(db: str | Path, out_csv: str | Path, *, model_id: str | None = None) -> int:
    """Write every decision ever made, oldest first, as CSV. Returns the row count."""
    decisions = DecisionStore(_existing(db)).history(model_id=model_id)
    atomic_write_text(out_csv, _csv_text(list(COLUMNS), [asdict(d) for d in decisions]))
    return len(decisions)


def _existing(db: str | Path) -> Path:
    if not Path(db).is_file():
        raise DataError("review database not found", path=db)
    return Path(db)
