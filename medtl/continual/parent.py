"""The parent run of ``--init-from``: its data, its old-task metric, and re-evaluating the old task.

A parent model directory holds ``config.yaml`` (the resolved TrainConfig: data path, split seed
and fractions), ``metrics.json`` and ``model.json`` (preprocessing, label names, heads). From
these the old task's training split (rehearsal, EWC's Fisher) and test split (the old-task metric
after continuing) are rebuilt exactly as the parent saw them.
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


def evaluate_old_task(model, parent_dir: str | Path, *, head: str | None = None, split: str = "test",
                      source=None, batch_size: int = 32, device: str = "cpu") -> dict:
    """Metrics of ``model`` on the parent's ``split``, through the parent's preprocessing and
    (if given) the named ``head``; the model's active head is restored afterwards.

    Classification: the same metrics as ``metrics.json`` (auc, accuracy, ...); segmentation: dice.
    """
    import torch

    from medtl.data import PreprocessConfig, build_transforms, make_dataset
    from medtl.models.io import read_model_info, stored_positive_class
    from medtl.train.data import make_loader
    from medtl.train.loop import Runtime, epoch_metrics, predict

    info = read_model_info(parent_dir)
    source = source if source is not None else parent_source(parent_dir)
    records = source.records.get(split) or []
    if not records:
        raise ModelDirError(f"the parent's {split!r} split is empty", path=source.source)
    task = info["task"]
    keys = ("image", "label") if task == "classification" else ("image", "mask")
    items = [{k: r[k] for k in keys if k in r} for r in records]
    pre = PreprocessConfig.from_dict(info["preprocess"])
    tf = build_transforms(pre, train=False, keys=("image",), mask_key="mask" if task == "segmentation" else None)
    loader = make_loader(make_dataset(items, tf, cache="none"), batch_size=batch_size, shuffle=False, seed=0)
    previous, was_training = getattr(model, "active_head", None), model.training
    if head is not None:
        model.set_active_head(head)
    try:
        out = predict(model, loader, Runtime(device=torch.device(device), quiet=True), task=task,
                      multilabel=bool(info.get("multilabel")), label_names=info["label_names"])
    finally:
        model.train(was_training)
        if head is not None and previous is not None:
            model.set_active_head(previous)
    return epoch_metrics(out, task=task, multilabel=bool(info.get("multilabel")), positive=stored_positive_class(info))
