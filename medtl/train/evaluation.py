"""``evaluate(model_dir, data, split="test") -> dict``: metrics of a saved model on any data.

The preprocessing, label names, temperature, threshold and positive class all come from the model
directory, so the numbers match what ``medtl score`` would produce. For a manifest without a
``split`` column the split is re-derived with the seed and fractions stored in the run's config.yaml.

``tta=True`` averages flip test-time augmentation views (``medtl.models.tta``: the flips the model
was trained with, or ``tta_axes``), exactly as ``medtl score --tta``: segmentation averages the
softmax probabilities (flips undone) then takes the argmax; classification averages the
temperature-scaled probabilities (the temperature is applied once, per view).
"""

from __future__ import annotations

from pathlib import Path

from medtl.errors import ConfigError, DataError

SPLITS = ("train", "val", "test", "all")


def _split_params(model_dir: Path) -> dict:
    import yaml

    path = model_dir / "config.yaml"
    if not path.is_file():
        return {}
    try:
        data = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("data") or {}
    except (OSError, yaml.YAMLError):
        return {}
    keys = {"seed": "seed", "val_fraction": "val_fraction", "test_fraction": "test_fraction"}
    return {k: data[v] for k, v in keys.items() if v in data}


def _tta_forward(model, axes, loaded):
    """``x -> probabilities`` averaged over the flip views (temperature applied to each view)."""
    import torch

    from medtl.models.tta import flip_views
    from medtl.train.calibration import probabilities

    if loaded.task == "segmentation":
        def probs(v):
            return torch.softmax(model(v).float(), 1)
    else:
        def probs(v):
            return torch.from_numpy(probabilities(model(v).float(), temperature=loaded.temperature,
                                                  multilabel=loaded.multilabel))

    return lambda x: flip_views(probs, x, axes, spatial_output=loaded.task == "segmentation").mean(0)


def evaluate(model_dir: str | Path, data: str | Path, split: str = "test", *, batch_size: int = 16,
             device: str = "auto", quiet: bool = True, tta: bool = False, tta_axes=None) -> dict:
    """Recompute the metrics of ``model_dir`` on ``split`` of ``data`` (``"all"``: every split).

    ``tta``: average flip views (see the module docstring); ``tta_axes`` overrides the training
    flips (spatial axes, 0 = first). The dict says ``"tta"`` and ``"tta_axes"`` (None without TTA).
    """
    import numpy as np

    from medtl.data import PreprocessConfig, build_transforms, load_source, make_dataset
    from medtl.models import load_model_dir
    from medtl.models.tta import resolve_tta
    from medtl.train.calibration import expected_calibration_error, probabilities
    from medtl.train.config import TrainConfig
    from medtl.train.data import make_loader, strip_records
    from medtl.train.loop import predict, resolve_runtime
    from medtl.train.metrics import classification_metrics

    if split not in SPLITS:
        raise ConfigError(f"split must be one of {SPLITS}, got {split!r}")
    model_dir = Path(model_dir)
    loaded = load_model_dir(model_dir)
    flips = resolve_tta(model_dir, tta, tta_axes, int(loaded.model.encoder.spatial_dims))
    source = load_source(data, task=loaded.task, **_split_params(model_dir))
    if list(source.label_names) != list(loaded.label_names):
        raise DataError(f"the data's labels {source.label_names} differ from the model's {loaded.label_names}",
                        path=source.source)
    records = [r for s in ("train", "val", "test") for r in source.records.get(s) or []] if split == "all" \
        else list(source.records.get(split) or [])
    if not records:
        raise DataError(f"the {split} split is empty", path=source.source)
    pre = PreprocessConfig.from_dict(loaded.preprocess)
    mask_key = "mask" if loaded.task == "segmentation" else None
    tf = build_transforms(pre, train=False, mask_key=mask_key)
    ds = make_dataset(strip_records(records, loaded.task), tf, cache="none")
    rt = resolve_runtime(TrainConfig(device=device, quiet=quiet), pre.spatial_dims)
    model = loaded.model.to(rt.device)
    loader = make_loader(ds, batch_size=batch_size, shuffle=False, seed=0)
    forward = None if flips is None else _tta_forward(model, flips.axes, loaded)
    if loaded.task == "segmentation":
        out = predict(model, loader, rt, task="segmentation", multilabel=False, label_names=loaded.label_names,
                      hd95=True, desc=split, forward=forward)
        metrics = dict(out["metrics"])
    else:
        out = predict(model, loader, rt, task="classification", multilabel=loaded.multilabel, desc=split,
                      forward=forward)
        probs = out["logits"].astype(np.float64) if forward is not None else \
            probabilities(out["logits"], temperature=loaded.temperature, multilabel=loaded.multilabel)
        metrics = classification_metrics(probs, np.asarray(out["labels"]), threshold=loaded.threshold,
                                         multilabel=loaded.multilabel, positive=loaded.positive_class)
        metrics["ece"] = expected_calibration_error(probs, out["labels"], multilabel=loaded.multilabel)
    metrics["split"] = split
    metrics["model_id"] = loaded.model_id
    metrics["tta"] = flips is not None
    metrics["tta_axes"] = None if flips is None else list(flips.axes)
    return metrics
