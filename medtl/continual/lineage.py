"""Model lineage: where a continued model came from, with which data and method, and what it
did to the old task.

``model.json["lineage"]`` is a list, oldest first; a model trained with ``--init-from PARENT``
carries the parent's list plus one new entry (:func:`extend_lineage`), and passes it to
``medtl.models.io.save_model_dir(..., lineage=...)``. A model trained from scratch or from
pretrained weights has an empty list.

Entry (``medtl-lineage/1``)::

    {"parent_model_id": sha256, "parent_path": str, "parent_task": str, "parent_label_names": [...],
     "mode": "same_task" | "new_task",
     "data": {"source": str, "fingerprint": sha256, "n_train": int},
     "method": "none" | "l2sp" | "ewc" | "rehearsal", "params": {...},
     "old_task_metric": {"name": "auc", "split": "test", "before": float, "after": float | None,
                         "change": float | None},
     "created": ISO-8601 UTC}
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medtl.continual.config import METHODS
from medtl.errors import ConfigError, ModelDirError

MODES = ("same_task", "new_task")


def lineage_entry(parent_dir: str | Path, parent_info: dict, *, data_source: str, data_fingerprint: str,
                  method: str, params: dict | None = None, mode: str = "same_task", n_train: int | None = None,
                  metric_name: str = "auc", metric_split: str = "test", metric_before: float | None = None,
                  metric_after: float | None = None) -> dict:
    """One lineage record for a model continued from ``parent_dir`` (whose model.json is
    ``parent_info``). ``metric_before`` is the old task's metric of the parent, ``metric_after``
    the same metric of the new model on the same old-task split (fill it in with
    :func:`set_metric_after` once known)."""
    if method not in METHODS:
        raise ConfigError(f"unknown continual method {method!r}; choose one of {', '.join(METHODS)}")
    if mode not in MODES:
        raise ConfigError(f"unknown continual mode {mode!r}; choose one of {', '.join(MODES)}")
    entry: dict[str, Any] = {
        "format": "medtl-lineage/1",
        "parent_model_id": parent_info.get("model_id"),
        "parent_path": str(Path(parent_dir).resolve()),
        "parent_task": parent_info.get("task"),
        "parent_label_names": list(parent_info.get("label_names") or []),
        "mode": mode,
        "data": {"source": str(data_source), "fingerprint": data_fingerprint, "n_train": n_train},
        "method": method,
        "params": dict(params or {}),
        "old_task_metric": {"name": metric_name, "split": metric_split, "before": None, "after": None,
                            "change": None},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    set_metric_after(entry, metric_after, before=metric_before)
    return entry


def set_metric_after(entry: dict, after: float | None, *, before: float | None = None) -> dict:
    """Record the old task's metric after continuing (and optionally before); updates ``change``."""
    m = entry["old_task_metric"]
    if before is not None:
        m["before"] = float(before)
    m["after"] = None if after is None else float(after)
    m["change"] = (m["after"] - m["before"]) if m["after"] is not None and m["before"] is not None else None
    return entry


def extend_lineage(parent_info: dict, entry: dict) -> list[dict]:
    """The child's lineage list: the parent's entries (copied) followed by ``entry``."""
    previous = parent_info.get("lineage") or []
    if not isinstance(previous, list):
        raise ModelDirError("model.json 'lineage' is not a list", path=entry.get("parent_path"))
    return [dict(e) for e in previous] + [entry]


def describe(lineage: list[dict]) -> str:
    """A short human-readable history (for MODEL_CARD.md)."""
    if not lineage:
        return "Trained without --init-from (no parent model)."
    lines = []
    for i, e in enumerate(lineage, 1):
        m = e.get("old_task_metric", {})
        metric = ""
        if m.get("before") is not None:
            after = "n/a" if m.get("after") is None else f"{m['after']:.3f}"
            metric = f"; old-task {m.get('split')} {m.get('name')} {m['before']:.3f} -> {after}"
        lines.append(f"{i}. from {str(e.get('parent_model_id'))[:12]} ({e.get('mode')}, method "
                     f"{e.get('method')}, data {Path(str(e.get('data', {}).get('source'))).name}{metric})")
    return "\n".join(lines)
