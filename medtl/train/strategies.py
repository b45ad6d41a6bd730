"""Transfer-learning strategies as freezing plans and optimizer parameter groups.

- ``scratch``: random init (weights ``none``), everything trains at ``optim.lr``.
- ``linear-probe``: the encoder is frozen (``requires_grad=False``, eval mode, not in the
  optimizer). Classification trains a logistic-regression head on cached embeddings
  (:mod:`medtl.train.probe`); segmentation trains the decoder on the frozen encoder.
- ``finetune``: the top ``finetune.unfreeze_groups`` encoder groups (all when ``None``) train with
  discriminative learning rates ``encoder_lr * layer_decay**depth`` (depth 0 = the top group); the
  head/decoder trains at ``optim.lr``. ``gradual_every=K`` starts with the head only and unfreezes
  one more group (top first) every K epochs. ``freeze_bn`` keeps the encoder's BatchNorm running
  statistics fixed (its modules stay in eval mode; affine parameters still train).

Parameters that will never train are not in the optimizer. Groups waiting for gradual unfreezing
are in it but have ``requires_grad=False`` until their epoch, so AdamW skips them (no gradient,
no update, no weight decay) and a resumed run rebuilds the same optimizer.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from medtl.train.config import TrainConfig

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


@dataclass
class Plan:
    """Which encoder groups train (indices into ``encoder.param_groups()``) and with which lr."""

    strategy: str
    trainable: list[int]  # every group that trains at some epoch, stem -> top order
    lrs: dict[int, float]  # group index -> lr
    head_lr: float
    gradual_every: int
    freeze_bn: bool
    encoder_frozen: bool  # the whole encoder is fixed (eval mode)

    def unfrozen_at(self, epoch: int) -> list[int]:
        """Encoder groups training during ``epoch`` (0-based)."""
        if not self.gradual_every:
            return list(self.trainable)
        n = min(len(self.trainable), epoch // self.gradual_every)
        return self.trainable[len(self.trainable) - n:] if n else []


def head_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every parameter of the model outside the encoder (head, decoder, extra heads)."""
    enc = {id(p) for p in model.encoder.parameters()}
    return [p for p in model.parameters() if id(p) not in enc]


def make_plan(cfg: TrainConfig, n_groups: int) -> Plan:
    o, ft = cfg.optim, cfg.finetune
    if cfg.strategy == "scratch":
        idx = list(range(n_groups))
        return Plan("scratch", idx, {i: o.lr for i in idx}, o.lr, 0, False, False)
    if cfg.strategy == "linear-probe":
        return Plan("linear-probe", [], {}, o.lr, 0, True, True)
    top = n_groups if ft.unfreeze_groups is None else max(0, min(int(ft.unfreeze_groups), n_groups))
    idx = list(range(n_groups - top, n_groups))
    lrs = {i: o.encoder_lr * (o.layer_decay ** (n_groups - 1 - i)) for i in idx}
    return Plan("finetune", idx, lrs, o.lr, int(ft.gradual_every), bool(ft.freeze_bn), False)


def apply_plan(model: nn.Module, plan: Plan, epoch: int) -> None:
    """Set ``requires_grad`` for ``epoch``; call :func:`set_train_mode` after ``model.train()``."""
    groups = model.encoder.param_groups()
    active = set(plan.unfrozen_at(epoch))
    for i, (_, params) in enumerate(groups):
        for p in params:
            p.requires_grad_(i in active)
    for p in head_parameters(model):
        p.requires_grad_(True)


def set_train_mode(model: nn.Module, plan: Plan) -> None:
    """``model.train()`` then put fixed parts back in eval mode (frozen encoder, frozen BN stats)."""
    model.train()
    if plan.encoder_frozen:
        model.encoder.eval()
    elif plan.freeze_bn:
        for m in model.encoder.modules():
            if isinstance(m, _BN):
                m.eval()


def optimizer_groups(model: nn.Module, plan: Plan, weight_decay: float) -> list[dict]:
    groups = model.encoder.param_groups()
    out = []
    for i in plan.trainable:
        name, params = groups[i]
        if params:
            out.append({"params": params, "lr": plan.lrs[i], "weight_decay": weight_decay, "name": name})
    head = head_parameters(model)
    if head:
        out.append({"params": head, "lr": plan.head_lr, "weight_decay": weight_decay, "name": "head"})
    return out


def set_bn_momentum(model: nn.Module, momentum: float | None) -> int:
    """Set every BatchNorm layer's momentum (``None``: leave as built); returns how many were set."""
    if momentum is None:
        return 0
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in layers:
        m.momentum = float(momentum)
    return len(layers)
