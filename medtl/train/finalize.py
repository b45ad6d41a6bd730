"""After training: calibrate, choose the operating point, score val/test, write the model directory.

Order (classification): validation logits -> temperature (NLL, LBFGS) -> binary threshold by
Youden's J on the *calibrated* validation probabilities (scoring applies the temperature, then the
threshold) -> metrics on val and test. Only rank 0 writes.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from medtl.fileio import atomic_write_json, atomic_write_text
from medtl.train.calibration import expected_calibration_error, fit_temperature, probabilities
from medtl.train.config import TrainConfig, dump_yaml
from medtl.train.data import make_loader
from medtl.train.loop import Runtime, predict
from medtl.train.metrics import classification_metrics, youden_threshold

TEST_CASES = "test_cases.npz"  # per-case test outputs of a run (write_test_cases)


def _logits(model, split: str, datasets: dict, feats: dict | None, rt: Runtime, cfg: TrainConfig, multilabel: bool):
    """(logits, labels) of a split: from cached embeddings (linear probe) or through the model."""
    if feats is not None and split in feats:
        x, y = feats[split]
        with torch.no_grad():
            w = model.head.fc.weight.detach().cpu().double().numpy()
            b = model.head.fc.bias.detach().cpu().double().numpy()
        return x.astype(np.float64) @ w.T + b, y
    ds = datasets.get(split)
    if ds is None or len(ds) == 0:
        return None, None
    loader = make_loader(ds, batch_size=cfg.batch_size, shuffle=False, seed=cfg.seed, num_workers=cfg.data.num_workers)
    out = predict(model, loader, rt, task="classification", multilabel=multilabel, desc=split)
    return out["logits"], out["labels"]


def classification_results(model, datasets, feats, rt, cfg, multilabel: bool,
                           positive: int = 1) -> tuple[dict, float, float, dict | None]:
    """(metrics {"val", "test"}, threshold, temperature, per-case test outputs {"probs", "labels"} or
    None); binary sensitivity is for class ``positive``."""
    vl, vy = _logits(model, "val", datasets, feats, rt, cfg, multilabel)
    temperature = fit_temperature(vl, vy, multilabel=multilabel) if cfg.calibrate else 1.0
    p_raw = probabilities(vl, multilabel=multilabel)
    p_val = probabilities(vl, temperature=temperature, multilabel=multilabel)
    threshold = 0.5
    if not multilabel and p_val.shape[1] == 2:
        threshold = youden_threshold(vy, p_val[:, 1])
    val = classification_metrics(p_val, vy, threshold=threshold, multilabel=multilabel, positive=positive)
    val["ece_before"] = expected_calibration_error(p_raw, vy, multilabel=multilabel)
    val["ece_after"] = expected_calibration_error(p_val, vy, multilabel=multilabel)
    tl, ty = _logits(model, "test", datasets, feats, rt, cfg, multilabel)
    test, cases = None, None
    if tl is not None and len(tl):
        p_test = probabilities(tl, temperature=temperature, multilabel=multilabel)
        test = classification_metrics(p_test, ty, threshold=threshold, multilabel=multilabel, positive=positive)
        test["ece"] = expected_calibration_error(p_test, ty, multilabel=multilabel)
        cases = {"probs": p_test.astype(np.float32), "labels": np.asarray(ty)}
    return {"val": val, "test": test}, threshold, temperature, cases


def segmentation_results(model, datasets, rt, cfg, label_names) -> tuple[dict, dict | None]:
    """(metrics {"val", "test"}, per-case test Dice {"dice": (N, labels - 1)} or None)."""
    out, cases = {}, None
    for split in ("val", "test"):
        ds = datasets.get(split)
        if ds is None or len(ds) == 0:
            out[split] = None
            continue
        loader = make_loader(ds, batch_size=cfg.batch_size, shuffle=False, seed=cfg.seed,
                             num_workers=cfg.data.num_workers)
        res = predict(model, loader, rt, task="segmentation", multilabel=False, label_names=label_names,
                      hd95=True, desc=split)
        out[split] = res["metrics"]
        if split == "test":
            cases = {"dice": res["dice_per_case"].astype(np.float32)}
    return out, cases


def write_test_cases(run_dir: Path, cases: dict | None) -> None:
    """``test_cases.npz``: the test split's per-case outputs (classification: calibrated probabilities
    and labels; segmentation: Dice per case and foreground label), in the order of the split, so
    runs on the same test split can be compared case by case (``medtl compare``'s paired bootstrap)."""
    if not cases:
        return
    import io

    from medtl.fileio import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, **cases)
    atomic_write_bytes(Path(run_dir) / TEST_CASES, buf.getvalue())


def finalize(model, model_cfg, cfg: TrainConfig, source, datasets, preprocess, rt: Runtime, run_dir: Path, *,
             feats, history, best_epoch: int, epochs_run: int, init_info, lineage, probe_c, t0: float,
             positive: int = 1) -> dict:
    from medtl.models import save_model_dir
    from medtl.models.io import binary_single_label
    from medtl.train.report import model_card, plot_curves

    model.eval()
    threshold, temperature = 0.5, 1.0
    is_binary = binary_single_label(cfg.task, source.label_names, source.multilabel)
    if cfg.task == "classification":
        metrics, threshold, temperature, cases = classification_results(model, datasets, feats, rt, cfg, source.multilabel,
                                                                  positive)
    else:
        metrics, cases = segmentation_results(model, datasets, rt, cfg, source.label_names)
    metrics.update({
        "wall_time_s": round(time.perf_counter() - t0, 2),
        "epochs": int(epochs_run),
        "best_epoch": int(best_epoch),
        "strategy": cfg.strategy,
        "threshold": float(threshold),
        "temperature": float(temperature),
    })
    if probe_c is not None:
        metrics["probe_C"] = probe_c
    if not rt.ctx.is_main:
        return metrics
    run_dir = Path(run_dir)
    counts = {s: len(source.records.get(s) or []) for s in ("train", "val", "test")}
    data_info = {"source": str(source.source), "fingerprint": source.fingerprint, "counts": counts,
                 "modality": source.modality, "spatial_dims": source.spatial_dims,
                 **({"label_fraction": source.extra["label_fraction"]} if "label_fraction" in source.extra else {})}
    provenance = {"init_from": str(cfg.init_from) if cfg.init_from else None, "strategy": cfg.strategy}
    info = save_model_dir(run_dir, model.to("cpu"), model_cfg=model_cfg, preprocess=preprocess,
                          label_names=source.label_names, multilabel=source.multilabel, threshold=threshold,
                          temperature=temperature, positive_class=positive if is_binary else None,
                          provenance=provenance, lineage=lineage,
                          extra={"training": {"data": data_info, "config": "config.yaml", "metrics": "metrics.json"}})
    model.to(rt.device)
    if cfg.task == "segmentation":  # what the training masks looked like, for scoring's quality flags
        from medtl.data.mask_stats import training_stats, write_stats

        write_stats(run_dir, training_stats(source.records["train"], source.label_names))
    atomic_write_text(run_dir / "config.yaml", dump_yaml(cfg))
    write_test_cases(run_dir, cases)
    atomic_write_json(run_dir / "metrics.json", metrics)
    metric_name = "auc" if cfg.task == "classification" else "dice"
    if history:
        plot_curves(run_dir / "curves.png", history, metric_name=metric_name)
    model_card(run_dir / "MODEL_CARD.md", cfg=cfg.to_dict(), data=data_info, metrics=metrics,
               provenance=info["provenance"], label_names=source.label_names, threshold=threshold,
               temperature=temperature, positive_class=info["positive_class"])
    rt.log(_summary(metrics, metric_name))
    return metrics


def _summary(metrics: dict, name: str) -> str:
    def f(split):
        m = metrics.get(split) or {}
        v = m.get(name)
        return "n/a" if v is None else f"{v:.4f}"

    return f"done in {metrics['wall_time_s']:.1f} s: val {name} {f('val')}, test {name} {f('test')}"
