"""The parent run of ``--init-from``: its data, its old-task metric and the continuation mode.

A parent model directory holds ``config.yaml`` (the resolved TrainConfig: data path, split seed
and fractions), ``metrics.json`` and ``model.json`` (preprocessing, label names, heads). From
these the old task's training split (rehearsal, EWC's Fisher) and test split are rebuilt exactly
as the parent saw them. Re-evaluating the old task after continuing runs the training loop's
prediction code, so it lives with it (``medtl.train.old_task.evaluate_old_task``): this package
never imports ``medtl.train``, which imports it.
"""

from __future__ import annotations

import json
from pathlib import Path

from medtl.errors import ModelDirError


def parent_train_config(parent_dir: str | Path) -> dict:
    """The parent's resolved training config (``config.yaml``) as a dict."""
    import yaml

    path = Path(parent_dir) / "config.yaml"
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelDirError("config.yaml missing: cannot find the parent's training data", path=parent_dir) from exc
    except (OSError, yaml.YAMLError) as exc:
        raise ModelDirError(f"unreadable config.yaml: {exc}", path=path) from exc
    if not isinstance(cfg, dict) or not (cfg.get("data") or {}).get("path"):
        raise ModelDirError("config.yaml has no data.path", path=path)
    return cfg


def parent_source(parent_dir: str | Path):
    """The parent's :class:`~medtl.data.DataSource`, split exactly as when it was trained."""
    from medtl.data import load_source

    cfg = parent_train_config(parent_dir)
    data = cfg["data"]
    return load_source(data["path"], task=cfg.get("task", "classification"), seed=int(data.get("seed", 0)),
                       val_fraction=float(data.get("val_fraction", 0.15)),
                       test_fraction=float(data.get("test_fraction", 0.15)))


def parent_metric(parent_dir: str | Path, name: str = "auc", split: str = "test") -> float | None:
    """The parent's own ``metrics.json[split][name]`` (the old task's metric before), if recorded."""
    path = Path(parent_dir) / "metrics.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get(split, {}).get(name)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelDirError(f"unreadable metrics.json: {exc}", path=path) from exc
    return None if value is None else float(value)


def resolve_mode(mode: str, parent_info: dict, task: str, label_names: list[str]) -> str:
    """``auto`` -> ``same_task`` when the task and label names equal the parent's, else ``new_task``."""
    if mode != "auto":
        return mode
    same = parent_info.get("task") == task and list(parent_info.get("label_names") or []) == list(label_names)
    return "same_task" if same else "new_task"
