"""Per-case result records: the durable source of truth of a scoring run.

Each finished case (ok or failed) gets ``OUT/results/<case_id>.json``, written atomically AFTER
all its other outputs. ``predictions.csv``, ``errors.jsonl`` and ``run_manifest.json`` are
regenerated from these records, so a ``kill -9`` at any moment can neither lose nor duplicate a
row. ``--resume`` skips a case only when its record is ``ok`` for the same input hash and the
same model, and every output it lists still exists; anything else is scored again.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from medtl.fileio import (
    atomic_write_json,
    atomic_write_text,
    confined,
    confined_child,
    sha256_file,
    sha256_files,
)

RESULTS_DIR = "results"
SALT_FILE = ".medtl_salt"


@dataclass
class CaseResult:
    case_id: str
    source: str
    root: str
    status: str  # "ok" | "failed"
    model_id: str
    input_sha256: str | None = None
    row: dict = field(default_factory=dict)  # the predictions.csv row (without case_id/source/status)
    outputs: list[str] = field(default_factory=list)  # paths relative to OUT
    error: dict | None = None  # {"code", "message"}

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict) -> CaseResult:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@functools.lru_cache(maxsize=16)
def _results_dir(out_dir: str) -> Path:
    return confined(out_dir, RESULTS_DIR)


def result_path(out_dir: str | Path, case_id: str) -> Path:
    return confined_child(_results_dir(os.path.abspath(out_dir)), f"{case_id}.json")


def write_result(out_dir: str | Path, result: CaseResult, *, durable: bool = True) -> None:
    atomic_write_json(result_path(out_dir, result.case_id), result.to_dict(), durable=durable)


def read_result(out_dir: str | Path, case_id: str) -> CaseResult | None:
    path = result_path(out_dir, case_id)
    try:
        return CaseResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None  # absent or unreadable: the case is redone


def input_sha256(files: list[str], path: str) -> str:
    """Hash of a case's input: its file, or every file of its DICOM series (order-free)."""
    if files:
        return sha256_files(files) if len(files) > 1 else sha256_file(files[0])
    return sha256_file(path)


def completed(out_dir: str | Path, case, model_id: str) -> CaseResult | None:
    """The stored result when ``case`` is already done for this input and model, else None."""
    result = read_result(out_dir, case.case_id)
    if result is None or result.status != "ok" or result.model_id != model_id:
        return None
    if result.source != case.source:
        return None
    for rel in result.outputs:
        if not confined(out_dir, rel).is_file():
            return None
    try:
        digest = input_sha256(case.files, case.path)
    except OSError:
        return None
    return result if digest == result.input_sha256 else None


def load_salt(out_dir: str | Path) -> str:
    """The run's salt for ``--anonymise-ids``: created once (race-free across processes), then
    reused, so resumed and sharded runs give the same ids."""
    path = confined(out_dir, SALT_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        atomic_write_text(tmp, secrets.token_hex(16))
        try:
            os.link(tmp, path)  # atomic and fails if another process won the race
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()
