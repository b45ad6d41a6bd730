"""Build the run-level files from the per-case records: predictions.csv, errors.jsonl and
run_manifest.json. Each is regenerated whole and written atomically, so re-running the merge (after
a crash, a resume or from several ranks) always yields the same files with one row per case.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from medtl.errors import MedtlError
from medtl.fileio import atomic_write, atomic_write_json, confined
from medtl.infer.outputs import prediction_header, write_predictions_csv
from medtl.infer.resume import CaseResult, read_result
from medtl.infer.sharding import missing_parts, read_parts

PREDICTIONS = "predictions.csv"
ERRORS = "errors.jsonl"
MANIFEST = "run_manifest.json"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def csv_row(result: CaseResult) -> dict:
    return {"case_id": result.case_id, "source": result.source, **result.row, "status": result.status}


def write_run_files(out_dir: str | Path, run: dict, results: list[CaseResult], *, write_csv: bool = True) -> dict:
    """Write predictions.csv, errors.jsonl and run_manifest.json for ``results`` (in order)."""
    header = prediction_header(run["task"], run["label_names"], spatial_dims=run["spatial_dims"],
                               tta=run.get("tta", False), multilabel=run.get("multilabel", False))
    if write_csv:
        write_predictions_csv(confined(out_dir, PREDICTIONS), header, [csv_row(r) for r in results])
    with atomic_write(confined(out_dir, ERRORS), "w") as fh:
        for r in results:
            if r.status != "ok":
                err = r.error or {}
                fh.write(json.dumps({"case_id": r.case_id, "source": r.source, "code": err.get("code", "error"),
                                     "message": err.get("message", "")}) + "\n")
    ok = sum(r.status == "ok" for r in results)
    manifest = {
        "model_id": run["model_id"], "weights_sha256": run["weights_sha256"], "model_dir": run["model_dir"],
        "medtl_version": run["medtl_version"], "task": run["task"], "label_names": run["label_names"],
        "inputs": run["inputs"], "options": run.get("options", {}),
        "started": run["started"], "finished": run.get("finished") or now_iso(),
        "parts": run.get("parts", 1),
        "counts": {"total": len(results), "ok": ok, "failed": len(results) - ok,
                   "skipped_resumed": run.get("skipped", 0)},
        "cases": {r.case_id: {"source": r.source, "root": r.root, "input_sha256": r.input_sha256,
                              "outputs": r.outputs, "status": r.status} for r in results},
    }
    atomic_write_json(confined(out_dir, MANIFEST), manifest)
    return manifest


def merge(out_dir: str | Path) -> dict:
    """Merge every part of the latest run in ``out_dir``; raises if a part is missing."""
    parts = read_parts(out_dir)
    missing = missing_parts(parts)
    if missing:
        raise MedtlError(f"parts not finished yet: {missing} of {parts[0]['num_parts']}; run them, then merge",
                         path=out_dir, code="incomplete")
    indexed: list[tuple[int, str]] = []
    for p in parts:
        indexed.extend(zip(p["indices"], p["case_ids"]))
    results = []
    for _, case_id in sorted(indexed):
        result = read_result(out_dir, case_id)
        if result is None:
            raise MedtlError(f"record of case {case_id} is missing; rerun with --resume", path=out_dir,
                             code="incomplete")
        results.append(result)
    first = parts[0]
    run = dict(first["run"])
    run.update(started=min(p["started"] for p in parts), finished=max(p["finished"] for p in parts),
               parts=first["num_parts"], skipped=sum(p.get("skipped", 0) for p in parts))
    return write_run_files(out_dir, run, results, write_csv=run.get("write_csv", True))
