"""One ``--init-from`` run: everything the training loop needs from medtl.continual, in one object.

``prepare_continuation`` is called once, after the child model is built and the parent weights
are loaded into it; the loop then uses ``Continuation.train_records`` (rehearsal mixing),
``Continuation.loss`` (task loss + penalty, or per-head replay loss) and, at the end,
``Continuation.save`` and ``Continuation.lineage``. See docs/continual.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from medtl.continual.config import ContinualConfig
from medtl.continual.lineage import extend_lineage, lineage_entry
from medtl.continual.penalties import EWC, L2SP, PENALTY_FILE, estimate_fisher, save_penalty
from medtl.continual.rehearsal import RehearsalBuffer, mix
from medtl.errors import ConfigError, ModelDirError


def old_head_name(parent_info: dict) -> str:
    """Name the parent's main head gets in a new-task child: ``task_<parent model_id[:8]>``."""
    return f"task_{str(parent_info['model_id'])[:8]}"


def attach_parent_heads(model, parent_dir: str | Path, parent_info: dict) -> str:
    """New task: copy the parent's heads into ``model`` (which has the NEW task's main head) so
    the old task stays usable. The parent's ``main`` head becomes :func:`old_head_name`; its
    other heads keep their names. Returns the old main head's name. The active head is unchanged.
    """
    from safetensors.torch import load_file

    weights = Path(parent_dir) / "model.safetensors"
    try:
        state = load_file(str(weights), device="cpu")
    except Exception as exc:  # safetensors has its own error types
        raise ModelDirError(f"unreadable weights: {exc}", path=weights) from None
    outputs = (parent_info.get("heads") or {}).get("outputs") or {"main": len(parent_info["label_names"])}
    old_main = old_head_name(parent_info)
    for name, n in outputs.items():
        target = old_main if name == "main" else name
        if target in model.heads:
            raise ModelDirError(f"head {target!r} already exists in the new model", path=parent_dir)
        model.add_head(target, int(n), activate=False)
        prefix = f"heads.{name}."
        sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        model.heads[target].load_state_dict(sub, strict=True)
    return old_main


def replay_loss(model, x: Tensor, y: Tensor, flags: Tensor, *, loss_fn: Callable, old_loss_fn: Callable,
                old_head: str) -> Tensor:
    """New-task rehearsal: new records (flag 0) through the active head with ``loss_fn``, replayed
    records (flag 1) through ``old_head`` with ``old_loss_fn``; weighted by their share of the
    batch, so the result is a per-sample mean like an ordinary loss.

    ``model`` may be a DistributedDataParallel wrapper: the call goes through its forward (both
    heads on the whole batch, so every parameter takes part in every step and DDP averages all
    gradients). Calling the unwrapped model here let the processes' weights drift apart."""
    inner = getattr(model, "module", model)
    new_logits, old_logits = model(x, heads=(inner.active_head, old_head))
    flags = torch.as_tensor(flags, device=new_logits.device).reshape(-1).bool()
    n = new_logits.shape[0]
    total = new_logits.new_zeros((), dtype=torch.float32)
    for mask, logits, fn in ((~flags, new_logits, loss_fn), (flags, old_logits, old_loss_fn)):
        k = int(mask.sum())
        if k:
            total = total + fn(logits[mask].float(), y[mask]) * (k / n)
    # A batch without one kind of record still touches that head (zero gradient), so DDP, which
    # expects every parameter's gradient, never waits for one that is not coming.
    return total + 0.0 * (new_logits.sum() + old_logits.sum())


@dataclass
class Continuation:
    cfg: ContinualConfig
    mode: str  # same_task | new_task
    parent_dir: Path
    parent_info: dict
    penalty: L2SP | EWC | None = None
    buffer: RehearsalBuffer | None = None
    old_head: str | None = None  # new_task: the parent's main head inside the child model
    metric_before: float | None = None
    metric_name: str = "auc"
    old_loss_fn: Callable | None = None  # the old task's loss, for records replayed through the old head
    extra_params: dict = field(default_factory=dict)

    @property
    def routes_replay(self) -> bool:
        """True when replayed records must go through the old head (:func:`replay_loss`)."""
        return self.buffer is not None and self.mode == "new_task"

    def train_records(self, new_records: list[dict], data=None) -> list[dict]:
        """The training records for this run (rehearsal records mixed in, flag ``rehearsal``)."""
        if self.buffer is None:
            return list(new_records)
        return mix(new_records, self.buffer.resolve(data), ratio=self.cfg.rehearsal_ratio, seed=self.cfg.seed)

    def loss(self, model, task_loss: Tensor) -> Tensor:
        """``task_loss + penalty(model)``; call with the unwrapped model (not the DDP wrapper)."""
        return task_loss if self.penalty is None else task_loss + self.penalty(model)

    def step_loss(self, model, x: Tensor, y: Tensor, batch: dict, loss_fn: Callable, autocast) -> Tensor:
        """The training loop's step hook (``medtl.train.objective.SupervisedObjective``): the task loss
        (replayed records through the old head when :attr:`routes_replay`), computed under
        ``autocast``, plus the forgetting penalty on the unwrapped model in fp32."""
        with autocast():
            if self.routes_replay:
                loss = replay_loss(model, x, y, batch["rehearsal"], loss_fn=loss_fn, old_loss_fn=self.old_loss_fn,
                                   old_head=self.old_head)
            else:
                loss = loss_fn(model(x).float(), y)
        return self.loss(getattr(model, "module", model), loss)

    def save(self, run_dir: str | Path) -> list[Path]:
        """Write ``continual.safetensors`` (penalty) and/or ``rehearsal.json`` into ``run_dir``."""
        run_dir = Path(run_dir)
        written = []
        if self.penalty is not None:
            save_penalty(run_dir / PENALTY_FILE, self.penalty,
                         extra={"parent_model_id": self.parent_info.get("model_id", "")})
            written.append(run_dir / PENALTY_FILE)
        if self.buffer is not None:
            written.append(self.buffer.save(run_dir))
        return written

    def lineage(self, *, data_source: str, data_fingerprint: str, n_train: int | None = None,
                metric_after: float | None = None) -> list[dict]:
        """The child's full lineage list (parent's entries + this run) for ``save_model_dir``."""
        params = {**self.cfg.params(), **self.extra_params}
        if self.old_head:
            params["old_head"] = self.old_head
        entry = lineage_entry(self.parent_dir, self.parent_info, data_source=data_source,
                              data_fingerprint=data_fingerprint, method=self.cfg.method, params=params,
                              mode=self.mode, n_train=n_train, metric_name=self.metric_name,
                              metric_before=self.metric_before, metric_after=metric_after)
        return extend_lineage(self.parent_info, entry)


def _old_task_batches(parent_dir: Path, parent_info: dict, source, *, batch_size: int, seed: int, device):
    """(x, y) batches of the parent's training split through the parent's preprocessing."""
    from medtl.data import PreprocessConfig, build_transforms, make_dataset
    from medtl.data.loader import loss_target, make_loader

    task, multilabel = parent_info["task"], bool(parent_info.get("multilabel"))
    keys = ("image", "label") if task == "classification" else ("image", "mask")
    items = [{k: r[k] for k in keys if k in r} for r in source.records.get("train") or []]
    if not items:
        raise ModelDirError("the parent's training split is empty", path=parent_dir)
    pre = PreprocessConfig.from_dict(parent_info["preprocess"])
    tf = build_transforms(pre, train=False, keys=("image",), mask_key="mask" if task == "segmentation" else None)
    loader = make_loader(make_dataset(items, tf, cache="none"), batch_size=batch_size, shuffle=True, seed=seed)
    for batch in loader:
        yield torch.as_tensor(batch["image"]).float().to(device), loss_target(batch, task, multilabel, device)


def _old_task_loss(parent_info: dict) -> Callable:
    if parent_info["task"] == "segmentation":
        from monai.losses import DiceCELoss

        return DiceCELoss(to_onehot_y=True, softmax=True)
    if parent_info.get("multilabel"):
        return nn.functional.binary_cross_entropy_with_logits
    return nn.functional.cross_entropy


def normalize_fisher(fisher: dict[str, Tensor], prefix: str = "encoder.") -> dict[str, Tensor]:
    """Divide the Fisher by its mean over the parameters named ``prefix*`` (all, if none), so
    that ``lambda * mean(F) = lambda``: one lambda then suits any model size and loss scale."""
    chosen = [f.flatten() for k, f in fisher.items() if k.startswith(prefix)] or [f.flatten() for f in fisher.values()]
    mean = float(torch.cat(chosen).mean()) if chosen else 0.0
    if not mean > 0:
        raise ConfigError("EWC: the Fisher is zero everywhere (no gradient on the old task's data)")
    return {k: f / mean for k, f in fisher.items()}


def prepare_continuation(cfg: ContinualConfig, model, parent_dir: str | Path, *, task: str,
                         label_names: list[str], batch_size: int = 16, device: str | torch.device = "cpu",
                         parent_data=None) -> Continuation:
    """Set up forgetting control for a child ``model`` that already holds the parent's weights
    (encoder, and the main head when the task is the same).

    new_task: the parent's heads are attached (:func:`attach_parent_heads`) and the new head stays
    active. l2sp: anchor = the current weights of every shared parameter (the new head gets
    ``beta``). ewc: the diagonal Fisher is estimated on ``ewc_batches`` batches of the parent's
    training split through the parent's preprocessing and its own head. rehearsal: a
    ``rehearsal_size`` sample of the parent's training split. ``parent_data`` (the parent's
    DataSource) is loaded from its config.yaml when needed and not given.
    """
    from medtl.continual.parent import parent_metric, parent_source, resolve_mode
    from medtl.models.io import read_model_info

    cfg.validate()
    parent_dir = Path(parent_dir)
    info = read_model_info(parent_dir)
    mode = resolve_mode(cfg.mode, info, task, label_names)
    if mode == "same_task" and (info.get("task") != task or len(info.get("label_names") or []) != len(label_names)):
        raise ConfigError("continual.mode same_task needs the parent's task and number of classes "
                          f"({info.get('task')}, {len(info.get('label_names') or [])})", path=parent_dir)
    metric_name = "auc" if info.get("task") == "classification" else "dice"
    cont = Continuation(cfg, mode, parent_dir, info, metric_before=parent_metric(parent_dir, metric_name),
                        metric_name=metric_name)
    if mode == "new_task":
        if cfg.method == "rehearsal" and (info.get("task") != "classification" or task != "classification"):
            raise ConfigError("rehearsal into a new task is supported for classification only (replayed "
                              "records go through the old head on pooled features)", path=parent_dir)
        cont.old_head = attach_parent_heads(model, parent_dir, info)
        cont.old_loss_fn = _old_task_loss(info)
    if cfg.method in ("ewc", "rehearsal") and parent_data is None:
        parent_data = parent_source(parent_dir)
    if cfg.method == "l2sp":
        new = ("heads.main.",) if mode == "new_task" else ()
        cont.penalty = L2SP(model, alpha=cfg.alpha, beta=cfg.beta, new_prefixes=new)
    elif cfg.method == "ewc":
        active = model.active_head
        model.set_active_head(cont.old_head or active)
        try:
            batches = _old_task_batches(parent_dir, info, parent_data, batch_size=batch_size, seed=cfg.seed,
                                        device=device)
            fisher = estimate_fisher(model, batches, _old_task_loss(info), n_batches=cfg.ewc_batches)
        finally:
            model.set_active_head(active)
        if cfg.ewc_normalize:
            fisher = normalize_fisher(fisher)
        cont.penalty = EWC(model, fisher, lam=cfg.ewc_lambda)
    elif cfg.method == "rehearsal":
        cont.buffer = RehearsalBuffer.sample(parent_data, cfg.rehearsal_size, seed=cfg.seed)
    return cont
