"""The epoch loop: train, validate, checkpoint, early-stop, log; resumable after a crash.

The loop owns the optimizer, schedule, AMP, DDP, EMA, checkpoints and the log; *what a step
computes* comes from an :class:`Objective`: ``train_loss(model, batch, rt)`` (the loss of one
batch) and ``validate(model, loader, rt)`` (a :class:`Validation`: loss, the metric epochs are
selected by, values to log). Supervised training (:class:`medtl.train.objective.SupervisedObjective`,
with ``medtl.continual``'s forgetting control plugged in as its step hook) and self-supervised
pretraining (``medtl.pretrain``) are both objectives; neither is known to this module.

Reproducibility: before every epoch the torch/numpy/random seeds, the data order (loader
generator) and the augmentation transforms are re-seeded from ``(seed, epoch)``, and
optimizer/scheduler/GradScaler states are checkpointed every epoch, so a run resumed after
epoch k ends with the same weights as an uninterrupted run on CPU (bit-identical in the tests).
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from medtl.data.loader import epoch_order, loss_target, make_loader, reseed_transforms
from medtl.fileio import append_line
from medtl.train import checkpoint as ckpt
from medtl.train import distributed as dist
from medtl.train.ema import make_ema
from medtl.train.metrics import SegmentationMeter, batch_spacing, classification_metrics
from medtl.train.optim import build_optimizer, build_scheduler
from medtl.train.strategies import Plan, apply_plan, optimizer_groups, set_train_mode


@dataclass
class Runtime:
    device: torch.device
    amp_dtype: torch.dtype | None = None  # autocast dtype on CUDA; None = fp32
    use_scaler: bool = False  # fp16 needs a GradScaler
    channels_last: bool = False
    quiet: bool = False
    ctx: dist.DistContext = field(default_factory=dist.DistContext)

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def log(self, text: str) -> None:
        if self.ctx.is_main:
            from tqdm import tqdm

            tqdm.write(text, file=sys.stderr)


def resolve_runtime(cfg, spatial_dims: int) -> Runtime:
    """Device, AMP and DDP from ``cfg.device`` / ``cfg.amp`` / ``cfg.quiet`` (any medtl run config)."""
    from medtl.errors import ConfigError

    kind = cfg.device
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA device is available")
    ctx = dist.init(kind)
    device = torch.device(f"cuda:{ctx.local_rank}" if kind == "cuda" else "cpu")
    rt = Runtime(device=device, quiet=cfg.quiet, ctx=ctx)
    if kind == "cuda" and cfg.amp:
        rt.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        rt.use_scaler = rt.amp_dtype == torch.float16
        rt.channels_last = spatial_dims == 2
    return rt


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def batch_inputs(batch: dict, rt: Runtime) -> torch.Tensor:
    x = torch.as_tensor(batch["image"]).to(rt.device, non_blocking=True).float()
    if rt.channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _bar(iterable, rt: Runtime, **kw):
    from tqdm import tqdm

    return tqdm(iterable, disable=rt.quiet or not rt.ctx.is_main, dynamic_ncols=True, file=sys.stderr, **kw)


@dataclass
class Validation:
    """One validation pass: ``metric`` selects the best epoch (higher is better)."""

    loss: float | None
    metric: float
    values: dict  # logged as ``val_<key>``


class Objective(Protocol):
    """What one training step computes and how an epoch is judged (see the module docstring)."""

    metric_name: str  # the name ``Validation.metric`` is logged under

    def train_loss(self, model, batch: dict, rt: Runtime) -> tuple[torch.Tensor, int]:
        """``(loss, number of samples)`` for one batch; ``model`` may be a DDP wrapper."""

    def validate(self, model, loader, rt: Runtime, desc: str = "val") -> Validation:
        """Score ``model`` on ``loader`` (eval mode is the objective's business)."""


def train_epoch(model, loader, objective: Objective, optimizer, scheduler, scaler, rt: Runtime, *,
                grad_clip: float = 0.0, desc: str = "train", ema=None) -> float:
    """One pass over ``loader``: loss from ``objective``, backward (GradScaler with fp16), clip,
    step, schedule, EMA. Returns the mean training loss per sample."""
    total, count = 0.0, 0
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for batch in _bar(loader, rt, desc=desc, leave=False, unit="batch"):
        optimizer.zero_grad(set_to_none=True)
        loss, n = objective.train_loss(model, batch, rt)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], grad_clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        scheduler.step()
        if ema is not None:
            ema.update_parameters(getattr(model, "module", model))  # DDP: the unwrapped weights
        total += float(loss.detach()) * n
        count += n
    return total / max(count, 1)


@torch.no_grad()
def predict(model, loader, rt: Runtime, *, task: str, multilabel: bool, loss_fn=None, label_names=None,
            hd95: bool = False, desc: str = "eval", forward: Callable | None = None) -> dict:
    """Classification: ``{"logits", "labels", "loss"}``; segmentation: ``{"metrics", "loss",
    "dice_per_case"}`` (an (N, labels - 1) array, NaN where a label is absent from a case).

    ``forward`` replaces ``model(x)`` (e.g. flip TTA returning averaged probabilities: they are
    then what "logits" holds, and segmentation metrics take their argmax just the same).
    """
    model.eval()
    forward = model if forward is None else forward
    total, count = 0.0, 0
    logits_all, labels_all = [], []
    meter = SegmentationMeter(label_names, hd95=hd95) if task == "segmentation" else None
    for batch in _bar(loader, rt, desc=desc, leave=False, unit="batch"):
        x = batch_inputs(batch, rt)
        with rt.autocast():
            logits = forward(x).float()
        y = loss_target(batch, task, multilabel, rt.device)
        if loss_fn is not None:
            total += float(loss_fn(logits, y)) * x.shape[0]
        count += x.shape[0]
        if meter is not None:
            meter.update(logits.cpu(), y.cpu(), spacing=batch_spacing(batch["image"]) if hd95 else None)
        else:
            logits_all.append(logits.cpu().numpy())
            labels_all.append(y.cpu().numpy())
    loss = total / count if count and loss_fn is not None else None
    if meter is not None:
        return {"metrics": meter.compute(), "loss": loss, "dice_per_case": meter.per_case("dice")}
    k = getattr(model, "num_classes", None)
    logits = np.concatenate(logits_all) if logits_all else np.zeros((0, k or 1), np.float32)
    labels = np.concatenate(labels_all) if labels_all else np.zeros((0,), np.int64)
    return {"logits": logits, "labels": labels, "loss": loss}


def epoch_metrics(out: dict, *, task: str, multilabel: bool, positive: int = 1) -> dict:
    if task == "segmentation":
        return dict(out["metrics"])
    from medtl.train.calibration import probabilities

    probs = probabilities(out["logits"], multilabel=multilabel)
    return classification_metrics(probs, out["labels"], multilabel=multilabel, positive=positive)


@dataclass
class FitResult:
    history: list[dict]
    best_epoch: int
    best_metric: float
    epochs_run: int
    resumed_from: int = 0


def _trim_log(path: Path, last_epoch: int) -> None:
    """Keep only the log lines of checkpointed epochs (a crash may have logged one more)."""
    if not path.exists():
        return
    from medtl.fileio import atomic_write_text

    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line)["epoch"] <= last_epoch:
                keep.append(line)
        except (ValueError, KeyError, TypeError):
            continue  # a truncated last line
    atomic_write_text(path, "".join(f"{line}\n" for line in keep))


def _initial_row(model, val_loader, objective: Objective, rt, state, ckpt_dir, log_path) -> None:
    val = objective.validate(model, val_loader, rt, desc="val (initial)")
    row = {"epoch": 0, "train_loss": None, "val_loss": val.loss, **{f"val_{k}": v for k, v in val.values.items()}}
    state.history.append(row)
    state.best_metric, state.best_epoch = val.metric, 0
    if rt.ctx.is_main:
        ckpt.save_weights(ckpt_dir / ckpt.BEST, model, {"epoch": "0"})
        append_line(log_path, json.dumps(row))
    rt.log(f"initial (linear probe head): val_loss {_fmt(val.loss)} val_{objective.metric_name} {_fmt(val.metric)}")


def _fmt(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


# Fewer optimiser steps than FEW_STEPS in a whole run of short epochs is too few for a network
# trained on a handful of labelled cases (hippocampus, 19 volumes: 60 steps left one structure
# unlearned in most runs, 240 learned both; docs/benchmarks/label_efficiency_hippocampus_steps.md):
# the loop says so.
FEW_STEPS = 200
SHORT_EPOCH = 8  # steps: an epoch this short means a small training set (a short run may be meant)


def fit(model, plan: Plan, datasets: dict, objective: Objective, rt: Runtime, cfg, run_dir: Path, *,
        sampler_weights: torch.Tensor | None = None, on_epoch_end: Callable[[int, dict], None] | None = None,
        eval_initial: bool = False) -> FitResult:
    """Train ``model`` (already on ``rt.device``) for ``cfg.epochs``; best weights in checkpoints/best.

    ``cfg`` is any run config with ``epochs``, ``batch_size``, ``seed``, ``resume``, ``patience``,
    ``data.num_workers`` and ``optim`` (``TrainConfig``, ``PretrainConfig``).
    """
    ctx = rt.ctx
    ckpt_dir = Path(run_dir) / "checkpoints"
    log_path = Path(run_dir) / "train_log.jsonl"
    metric_name = objective.metric_name
    train_ds, val_ds = datasets["train"], datasets["val"]

    samples = max(len(train_ds), cfg.data.min_samples_per_epoch)  # items drawn per epoch

    def loader_for(epoch: int):
        if sampler_weights is not None and not ctx.enabled:
            sampler = torch.utils.data.WeightedRandomSampler(sampler_weights, samples, replacement=True)
        elif samples > len(train_ds):  # data.min_samples_per_epoch: repeated passes (also under torchrun)
            sampler = epoch_order(len(train_ds), samples, seed=cfg.seed, epoch=epoch, rank=ctx.rank,
                                  world=ctx.world_size)
        else:
            sampler = dist.train_sampler(train_ds, ctx, seed=cfg.seed)
            if sampler is not None:
                sampler.set_epoch(epoch)
        return make_loader(train_ds, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=epoch,
                           num_workers=cfg.data.num_workers, sampler=sampler, drop_last=samples > cfg.batch_size)

    val_loader = make_loader(val_ds, batch_size=cfg.batch_size, shuffle=False, seed=cfg.seed,
                             num_workers=cfg.data.num_workers)
    optimizer = build_optimizer(optimizer_groups(model, plan, cfg.optim.weight_decay), cfg)
    steps_per_epoch = len(loader_for(0))
    scheduler = build_scheduler(optimizer, cfg, steps_per_epoch)
    if steps_per_epoch < SHORT_EPOCH and steps_per_epoch * cfg.epochs < FEW_STEPS:  # few labels, not few epochs
        rt.log(f"note: {samples} training items an epoch at batch {cfg.batch_size} give {steps_per_epoch} optimiser "
               f"step(s) an epoch, {steps_per_epoch * cfg.epochs} in all; with few labels more steps usually help "
               f"(--set data.min_samples_per_epoch={-(-FEW_STEPS // cfg.epochs) * cfg.batch_size}, docs/training.md)")
    scaler = torch.amp.GradScaler(rt.device.type) if rt.use_scaler else None
    state = ckpt.TrainState(epoch=0, best_metric=-math.inf, best_epoch=0, bad_epochs=0)
    ema = make_ema(model, cfg.optim.ema_decay)
    scored = model if ema is None else ema.module  # the model validated, selected and kept
    if cfg.resume:
        loaded = ckpt.load_checkpoint(ckpt_dir, model, ema)
        if loaded is not None:
            state = loaded
            optimizer.load_state_dict(state.optimizer)
            scheduler.load_state_dict(state.scheduler)
            if scaler is not None and state.scaler:
                scaler.load_state_dict(state.scaler)
            rt.log(f"resuming after epoch {state.epoch} (best {metric_name} {state.best_metric:.4f} at epoch {state.best_epoch})")
    if ctx.is_main:
        _trim_log(log_path, state.epoch if state.history else -1)
    resumed_from = state.epoch
    if eval_initial and state.epoch == 0:  # LP-FT: the probe-initialised model competes as "epoch 0"
        _initial_row(model, val_loader, objective, rt, state, ckpt_dir, log_path)
    stopped = bool(state.extra.get("stopped"))
    active, wrapped = None, model
    epochs = _bar(range(state.epoch, cfg.epochs), rt, desc="epochs", unit="epoch", initial=state.epoch, total=cfg.epochs)
    for epoch in epochs if not stopped else []:
        t0 = time.perf_counter()
        seed_everything(cfg.seed * 1000 + epoch)
        apply_plan(model, plan, epoch)
        if plan.unfrozen_at(epoch) != active:  # DDP registers hooks for the params that train now
            active, wrapped = plan.unfrozen_at(epoch), dist.wrap(model, ctx, rt.device)
        set_train_mode(model, plan)
        reseed_transforms(train_ds, cfg.seed * 1000 + epoch)
        train_loss = train_epoch(wrapped, loader_for(epoch), objective, optimizer, scheduler, scaler, rt,
                                 grad_clip=cfg.optim.grad_clip, desc=f"epoch {epoch + 1}/{cfg.epochs}", ema=ema)
        train_s = time.perf_counter() - t0
        val = objective.validate(scored, val_loader, rt)
        metric = val.metric
        row = {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val.loss,
               **{f"val_{k}": v for k, v in val.values.items()},
               "lr": max(g["lr"] for g in optimizer.param_groups), "unfrozen_groups": len(plan.unfrozen_at(epoch)),
               "time_s": round(time.perf_counter() - t0, 3), "train_s": round(train_s, 3)}
        if metric > state.best_metric + 1e-12:
            state.best_metric, state.best_epoch, state.bad_epochs = metric, epoch + 1, 0
            if ctx.is_main:
                ckpt.save_weights(ckpt_dir / ckpt.BEST, scored, {"epoch": str(epoch + 1)})
        else:
            state.bad_epochs += 1
        stopped = bool(cfg.patience) and state.bad_epochs >= cfg.patience
        state.epoch = epoch + 1
        state.history.append(row)
        state.optimizer, state.scheduler = optimizer.state_dict(), scheduler.state_dict()
        state.scaler = scaler.state_dict() if scaler is not None else None
        state.extra = {"stopped": stopped}
        if ctx.is_main:
            append_line(log_path, json.dumps(row))
            ckpt.save_checkpoint(ckpt_dir, model, state, ema)
        rt.log(f"epoch {epoch + 1}/{cfg.epochs} train_loss {train_loss:.4f} val_loss {_fmt(val.loss)} "
               f"val_{metric_name} {_fmt(row.get(f'val_{metric_name}', metric))} ({row['time_s']:.1f} s)")
        ctx.barrier()
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, row)
        if stopped:
            rt.log(f"early stopping: no {metric_name} improvement for {cfg.patience} epochs")
            break
    return FitResult(state.history, state.best_epoch, state.best_metric, state.epoch, resumed_from)
