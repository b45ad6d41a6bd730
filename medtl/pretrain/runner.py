"""``pretrain(cfg) -> RunResult``: unlabelled scans -> encoder + U-Net decoder -> restoration
objective -> the training loop -> a medtl model directory that ``medtl train --weights DIR``
(or ``model.weights: DIR``, ``--init-from DIR``) starts from.

The loop, checkpoints (kill -9 and ``--resume`` give the same weights), DDP, AMP and EMA are
``medtl.train``'s own: this module only supplies the data, the model and the objective.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from medtl.fileio import atomic_write_json, atomic_write_text
from medtl.pretrain.config import PretrainConfig
from medtl.pretrain.data import UnlabelledSource, load_unlabelled
from medtl.pretrain.objective import ReconstructionObjective
from medtl.train import checkpoint as ckpt
from medtl.train.loop import fit, resolve_runtime, seed_everything
from medtl.train.strategies import Plan, set_bn_momentum
from medtl.train.trainer import RunResult, check_run_dir


def _check_run_dir(cfg: PretrainConfig) -> Path:
    return check_run_dir(cfg, data_hint="FOLDER|MANIFEST.csv|FILE.npz", what="unlabelled data")


def _datasets(cfg: PretrainConfig, src: UnlabelledSource, preprocess) -> dict:
    from medtl.data import AugmentConfig, build_transforms, make_dataset

    augment = AugmentConfig(**cfg.augment) if cfg.augment else AugmentConfig()
    out = {}
    for split in ("train", "val"):
        tf = build_transforms(preprocess, train=split == "train", keys=("image",),
                              augment=augment if split == "train" else None)
        items = [{"image": r["image"]} for r in src.records[split]]
        out[split] = make_dataset(items, tf, cache=cfg.data.cache)
    return out


def _plan(model, cfg: PretrainConfig) -> Plan:
    """Everything trains; an encoder that starts from pretrained weights gets ``optim.encoder_lr``."""
    n = len(model.encoder.param_groups())
    enc_lr = cfg.optim.lr if cfg.model.weights == "none" else cfg.optim.encoder_lr
    return Plan("pretrain", list(range(n)), {i: enc_lr for i in range(n)}, cfg.optim.lr, 0, False, False)


def pretrain(cfg: PretrainConfig, *, on_epoch_end=None) -> RunResult:
    """Self-supervised pretraining as ``cfg`` says; writes the model directory ``cfg.out``."""
    from medtl.models import ModelConfig, build_model
    from medtl.models.io import model_dir_info, save_model_dir
    from medtl.train.data import check_input_size, derive_preprocess
    from medtl.train.report import plot_curves

    t0 = time.perf_counter()
    cfg.validate()
    run_dir = _check_run_dir(cfg)
    quiet = cfg.quiet

    def log(text: str) -> None:
        if not quiet and int(os.environ.get("RANK", "0")) == 0:
            print(text, file=sys.stderr)

    src = load_unlabelled(cfg.data.path, exclude=cfg.ssl.exclude, val_fraction=cfg.ssl.val_fraction,
                          seed=cfg.data.seed, max_scans=cfg.ssl.max_scans, split_seed=cfg.data.seed,
                          split_val_fraction=cfg.data.val_fraction, split_test_fraction=cfg.data.test_fraction,
                          log=log)
    rt = resolve_runtime(cfg, src.spatial_dims)
    rt.log(f"unlabelled scans: {src.n_used} used ({src.counts()['train']} train / {src.counts()['val']} val), "
           f"{src.excluded} excluded, {len(src.skipped)} skipped, {src.spatial_dims}D, {src.in_channels} channel(s)")
    seed_everything(cfg.seed)
    in_ch = int(cfg.preprocess.in_channels or src.in_channels)
    kw = {"decoder_channels": tuple(cfg.model.decoder_channels)} if cfg.model.decoder_channels else {}
    model_cfg = ModelConfig(task="segmentation", encoder=cfg.model.encoder, weights=cfg.model.weights,
                            spatial_dims=src.spatial_dims, in_channels=in_ch, num_classes=in_ch, **kw)
    model = build_model(model_cfg, weights_dir=cfg.model.weights_dir)
    parent = model_dir_info(cfg.model.weights)  # an earlier run: continued pretraining
    if parent is not None and parent.get("pretraining"):  # continue an earlier pretraining: decoder too
        from medtl.models.weights import load_decoder_from_model_dir

        load_decoder_from_model_dir(model, Path(cfg.model.weights), with_head=True)
    set_bn_momentum(model, cfg.model.bn_momentum)
    preprocess = derive_preprocess(cfg, src, model.encoder.pretrained_cfg, in_ch)
    check_input_size(preprocess.image_size, model.encoder, "segmentation")
    datasets = _datasets(cfg, src, preprocess)
    model.to(rt.device)
    objective = ReconstructionObjective(cfg.ssl.method, cfg.ssl, tuple(preprocess.mean), tuple(preprocess.std))
    if rt.ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run_dir / "data.json", {
            "source": src.source, "fingerprint": src.fingerprint, "found": src.n_found, "used": src.n_used,
            "counts": src.counts(), "excluded": src.excluded, "exclude_manifest": cfg.ssl.exclude,
            "skipped": src.skipped, "spatial_dims": src.spatial_dims, "in_channels": src.in_channels,
            "modality": src.modality})
    res = fit(model, _plan(model, cfg), datasets, objective, rt, cfg, run_dir, on_epoch_end=on_epoch_end)
    best = run_dir / "checkpoints" / ckpt.BEST
    if best.is_file():
        ckpt.load_weights(best, model)
    wall = time.perf_counter() - t0
    best_row = next((r for r in res.history if r["epoch"] == res.best_epoch), res.history[-1] if res.history else {})
    summary = (f"self-supervised ({cfg.ssl.method}) on {src.n_used} scans"
               + (f", from {cfg.model.weights} weights" if cfg.model.weights != "none" else ""))
    pretraining = {
        "method": cfg.ssl.method, "summary": summary, "n_scans": src.n_used, "counts": src.counts(),
        "excluded": src.excluded, "skipped": len(src.skipped), "epochs": res.epochs_run, "best_epoch": res.best_epoch,
        "val_psnr": best_row.get("val_psnr"), "wall_time_s": round(wall, 1),
        "data": {"source": src.source, "fingerprint": src.fingerprint, "modality": src.modality,
                 "spatial_dims": src.spatial_dims},
        "ssl": dict(vars(cfg.ssl)), "config": "config.yaml", "metrics": "metrics.json",
    }
    lineage = []
    if parent is not None:
        lineage = list(parent.get("lineage") or []) + [{"model_id": parent.get("model_id"), "path": cfg.model.weights}]
    lineage.append({"kind": "self-supervised", "method": cfg.ssl.method, "n_scans": src.n_used,
                    "data_source": src.source, "data_fingerprint": src.fingerprint})
    metrics = {"val": {"loss": best_row.get("val_loss"), "psnr": best_row.get("val_psnr")}, "test": None,
               "wall_time_s": round(wall, 1), "epochs": res.epochs_run, "best_epoch": res.best_epoch,
               "strategy": "self-supervised", "method": cfg.ssl.method}
    if rt.ctx.is_main:
        from medtl.pretrain.report import model_card
        from medtl.train.config import dump_yaml

        atomic_write_text(run_dir / "config.yaml", dump_yaml(cfg))
        atomic_write_json(run_dir / "metrics.json", metrics)
        plot_curves(run_dir / "curves.png", res.history, metric_name="psnr")
        info = save_model_dir(run_dir, model, model_cfg=model_cfg, preprocess=preprocess,
                              label_names=[f"channel_{i}" for i in range(in_ch)],
                              provenance={"strategy": "self-supervised", "init_from": None},
                              lineage=lineage, extra={"pretraining": pretraining})
        model_card(run_dir / "MODEL_CARD.md", info=info, metrics=metrics, data_json=run_dir / "data.json")
        rt.log(f"{summary}: best validation PSNR {metrics['val']['psnr']} dB at epoch {res.best_epoch}; "
               f"{wall:.0f} s -> {run_dir}")
    rt.ctx.barrier()
    rt.ctx.close()
    return RunResult(run_dir, metrics)
