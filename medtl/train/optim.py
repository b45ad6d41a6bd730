"""Loss, optimizer (AdamW) and learning-rate schedule (cosine / one-cycle / constant, linear warmup)."""

from __future__ import annotations

import math

import torch
from torch import nn

from medtl.data.loader import loss_target  # noqa: F401 (re-exported)
from medtl.train.config import TrainConfig


def build_loss(cfg: TrainConfig, *, multilabel: bool, class_weights: torch.Tensor | None) -> nn.Module:
    """CE (multi-class and binary as 2-class softmax), BCE-with-logits (multi-label), DiceCE (segmentation)."""
    if cfg.task == "segmentation":
        from monai.losses import DiceCELoss

        return DiceCELoss(to_onehot_y=True, softmax=True)
    use_w = cfg.data.balance == "weights" and class_weights is not None
    if multilabel:
        return nn.BCEWithLogitsLoss(pos_weight=class_weights if use_w else None)
    return nn.CrossEntropyLoss(weight=class_weights if use_w else None, label_smoothing=cfg.optim.label_smoothing)


def build_optimizer(groups: list[dict], cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(groups, weight_decay=cfg.optim.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int):
    """Stepped once per batch. Cosine/constant: LambdaLR with linear warmup; onecycle: OneCycleLR."""
    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = int(round(cfg.optim.warmup_epochs * steps_per_epoch))
    if cfg.optim.schedule == "onecycle":
        max_lr = [g["lr"] for g in optimizer.param_groups]
        pct = min(0.5, max(warmup / total, 0.05)) if warmup else 0.3
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total, pct_start=pct)
    cosine = cfg.optim.schedule == "cosine"

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if not cosine:
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
