"""The old task's metric after ``--init-from``: the child model on the parent's test split.

Kept in ``medtl.train`` (it runs the loop's ``predict``), so ``medtl.continual`` never imports
``medtl.train``: the dependency goes one way, train -> continual.
"""

from __future__ import annotations

from pathlib import Path

from medtl.errors import ModelDirError


def evaluate_old_task(model, parent_dir: str | Path, *, head: str | None = None, split: str = "test",
                      source=None, batch_size: int = 32, device: str = "cpu") -> dict:
    """Metrics of ``model`` on the parent's ``split``, through the parent's preprocessing and
    (if given) the named ``head``; the model's active head is restored afterwards.

    Classification: the same metrics as ``metrics.json`` (auc, accuracy, ...); segmentation: dice.
    """
    import torch

    from medtl.continual.parent import parent_source
    from medtl.data import PreprocessConfig, build_transforms, make_dataset
    from medtl.data.loader import make_loader
    from medtl.models.io import read_model_info, stored_positive_class
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
