"""Forgetting penalties added to the training loss: L2-SP and EWC.

Both are plain callables (not ``nn.Module``, so they never end up in the model's state dict or
optimizer): ``penalty(model) -> Tensor`` returns a scalar to add to the task loss. Their state
(anchor weights, Fisher diagonal) is a flat ``dict[str, Tensor]`` that :func:`save_penalty`
writes as safetensors in the model directory (``continual.safetensors``), with the method and
its hyperparameters in the safetensors metadata; :func:`load_penalty` reads it back without
executing any pickle.

- L2-SP (Li, Grandvalet, Davoine, ICML 2018): ``alpha/2 * ||w_S - w_S^0||^2 + beta/2 * ||w_new||^2``
  where ``w_S`` are the parameters that exist in the starting (anchor) weights with the same
  shape, and ``w_new`` the rest (a new head).
- EWC (Kirkpatrick et al., PNAS 2017): ``lambda/2 * sum_i F_i (theta_i - theta*_i)^2`` with ``F``
  the diagonal (empirical) Fisher of the old task, estimated at the starting weights by
  :func:`estimate_fisher`. Parameters without a Fisher entry (a new head) are not penalised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from medtl.errors import ConfigError, ModelDirError

PENALTY_FILE = "continual.safetensors"


def snapshot(model: nn.Module, prefixes: Iterable[str] = ()) -> dict[str, Tensor]:
    """Detached float32 CPU copies of the model's parameters (optionally only those whose names
    start with one of ``prefixes``): the anchor ``theta*``."""
    prefixes = tuple(prefixes)
    return {
        name: p.detach().to("cpu", torch.float32).clone()
        for name, p in model.named_parameters()
        if not prefixes or name.startswith(prefixes)
    }


class _Penalty:
    """Shared bookkeeping: named tensors kept on CPU, cached per device for ``__call__``."""

    method = "none"

    def __init__(self) -> None:
        self._tensors: dict[str, Tensor] = {}
        self._device_cache: dict[tuple[str, torch.device], Tensor] = {}

    def _on(self, key: str, device: torch.device) -> Tensor:
        cached = self._device_cache.get((key, device))
        if cached is None:
            cached = self._tensors[key].to(device)
            self._device_cache[(key, device)] = cached
        return cached

    def state_dict(self) -> dict[str, Tensor]:
        return dict(self._tensors)

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        self._tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in state.items()}
        self._device_cache.clear()

    def hparams(self) -> dict[str, float | str]:  # overridden
        return {}

    @property
    def anchor(self) -> dict[str, Tensor]:
        """The starting weights ``theta*`` by parameter name."""
        return {k[len("anchor."):]: v for k, v in self._tensors.items() if k.startswith("anchor.")}


class L2SP(_Penalty):
    """L2-SP: pull shared parameters toward the starting weights, plain L2 on new ones.

    ``anchor_state`` maps parameter names to starting values (e.g. the parent model's
    ``encoder.*`` weights); ``None`` snapshots ``model`` now (the usual call, right after the
    parent weights were loaded). Parameters named in the anchor with the same shape are
    "shared" (``alpha``); other trainable parameters, and any whose name starts with one of
    ``new_prefixes`` (e.g. ``("heads.main.",)`` for a freshly initialised head), get ``beta``.
    Frozen parameters (``requires_grad=False``) and inactive heads cannot drift and are skipped.
    """

    method = "l2sp"

    def __init__(self, model: nn.Module, anchor_state: Mapping[str, Tensor] | None = None, *,
                 alpha: float = 0.01, beta: float = 1e-4, new_prefixes: Iterable[str] = ()):
        super().__init__()
        if alpha < 0 or beta < 0:
            raise ConfigError(f"L2-SP weights must be >= 0 (alpha={alpha}, beta={beta})")
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.new_prefixes = tuple(new_prefixes)
        anchor = snapshot(model) if anchor_state is None else anchor_state
        self.load_state_dict({f"anchor.{k}": v for k, v in anchor.items() if not self._is_new(k)})

    def _is_new(self, name: str) -> bool:
        return bool(self.new_prefixes) and name.startswith(self.new_prefixes)

    def hparams(self) -> dict[str, float | str]:
        return {"alpha": self.alpha, "beta": self.beta, "new_prefixes": ",".join(self.new_prefixes)}

    def __call__(self, model: nn.Module) -> Tensor:
        drift: list[Tensor] = []
        new: list[Tensor] = []
        for name, p in _trained_parameters(model):
            key = f"anchor.{name}"
            if key in self._tensors and self._tensors[key].shape == p.shape and not self._is_new(name):
                if self.alpha:
                    drift.append((p.float() - self._on(key, p.device)).pow(2).sum())
            elif self.beta:
                new.append(p.float().pow(2).sum())
        total = _zero_like(model)
        if drift:
            total = total + 0.5 * self.alpha * torch.stack(drift).sum()
        if new:
            total = total + 0.5 * self.beta * torch.stack(new).sum()
        return total


class EWC(_Penalty):
    """Elastic weight consolidation with a diagonal Fisher.

    ``fisher`` maps parameter names to the Fisher diagonal (same shapes); build it with
    :func:`estimate_fisher` on the OLD task's data, at the starting weights. ``anchor_state``
    defaults to a snapshot of ``model`` now. ``lam`` is EWC's lambda.
    """

    method = "ewc"

    def __init__(self, model: nn.Module, fisher: Mapping[str, Tensor] | None = None,
                 anchor_state: Mapping[str, Tensor] | None = None, *, lam: float = 100.0):
        super().__init__()
        if lam < 0:
            raise ConfigError(f"EWC lambda must be >= 0 (got {lam})")
        self.lam = float(lam)
        anchor = snapshot(model) if anchor_state is None else anchor_state
        fisher = fisher or {}
        state = {f"anchor.{k}": v for k, v in anchor.items() if k in fisher}
        state.update({f"fisher.{k}": v for k, v in fisher.items()})
        self.load_state_dict(state)

    @classmethod
    def from_data(cls, model: nn.Module, loader: Iterable, loss_fn: Callable[[Tensor, Tensor], Tensor],
                  *, n_batches: int | None = None, lam: float = 100.0) -> EWC:
        """Estimate the Fisher on ``loader`` (old task) at the model's current weights."""
        return cls(model, estimate_fisher(model, loader, loss_fn, n_batches), lam=lam)

    def hparams(self) -> dict[str, float | str]:
        return {"lam": self.lam}

    @property
    def fisher(self) -> dict[str, Tensor]:
        return {k[len("fisher."):]: v for k, v in self._tensors.items() if k.startswith("fisher.")}

    def __call__(self, model: nn.Module) -> Tensor:
        terms: list[Tensor] = []
        for name, p in _trained_parameters(model):
            fkey, akey = f"fisher.{name}", f"anchor.{name}"
            if (fkey not in self._tensors or akey not in self._tensors
                    or self._tensors[fkey].shape != p.shape):
                continue
            diff = p.float() - self._on(akey, p.device)
            terms.append((self._on(fkey, p.device) * diff.pow(2)).sum())
        total = _zero_like(model)
        if terms:
            total = total + 0.5 * self.lam * torch.stack(terms).sum()
        return total


def _trained_parameters(model: nn.Module):
    """``(name, parameter)`` pairs that can change in this run: ``requires_grad`` set, and not
    inside an inactive head of a multi-head MedtlModel. An inactive head takes no part in the
    forward pass; a penalty term on it would only hand it a zero gradient, which AdamW's
    weight decay would then act on, eroding the old task's head."""
    heads, active = getattr(model, "heads", None), getattr(model, "active_head", None)
    skip = tuple(f"heads.{n}." for n in heads if n != active) if isinstance(heads, nn.ModuleDict) else ()
    for name, p in model.named_parameters():
        if p.requires_grad and not (skip and name.startswith(skip)):
            yield name, p


def _zero_like(model: nn.Module) -> Tensor:
    first = next(model.parameters(), None)
    return torch.zeros((), device=first.device if first is not None else "cpu")


def _split_batch(batch) -> tuple[Tensor, Tensor]:
    """(inputs, targets) from a MONAI dict batch ({"image", "label"}) or a (x, y) tuple."""
    if isinstance(batch, Mapping):
        return batch["image"], batch["label"]
    x, y = batch[0], batch[1]
    return x, y


def estimate_fisher(model: nn.Module, loader: Iterable, loss_fn: Callable[[Tensor, Tensor], Tensor],
                    n_batches: int | None = None) -> dict[str, Tensor]:
    """Diagonal empirical Fisher: the mean over samples of the squared per-sample gradient of
    ``loss_fn(model(x_i), y_i)`` for every trainable parameter.

    Gradients are taken one sample at a time (the square of a batch-mean gradient would
    underestimate the Fisher by about the batch size). The model runs in eval mode, so
    BatchNorm statistics are not changed; its mode and ``.grad`` fields are restored after.
    ``n_batches`` caps the number of loader batches used (``None`` = all).
    """
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if not params:
        raise ConfigError("EWC: the model has no trainable parameters to estimate a Fisher for")
    saved_grads = {n: (None if p.grad is None else p.grad.detach().clone()) for n, p in params.items()}
    was_training = model.training
    device = next(iter(params.values())).device
    fisher = {n: torch.zeros_like(p, dtype=torch.float32, device="cpu") for n, p in params.items()}
    count = 0
    model.eval()
    try:
        for b, batch in enumerate(loader):
            if n_batches is not None and b >= n_batches:
                break
            x, y = _split_batch(batch)
            x, y = torch.as_tensor(x).to(device), torch.as_tensor(y).to(device)
            for i in range(x.shape[0]):
                model.zero_grad(set_to_none=True)
                loss = loss_fn(model(x[i:i + 1]), y[i:i + 1])
                loss.backward()
                for n, p in params.items():
                    if p.grad is not None:
                        fisher[n] += p.grad.detach().to("cpu", torch.float32).pow(2)
                count += 1
    finally:
        model.train(was_training)
        for n, p in params.items():
            p.grad = saved_grads[n]
    if count == 0:
        raise ConfigError("EWC: the old-task loader gave no samples to estimate the Fisher from")
    return {n: f / count for n, f in fisher.items()}


def save_penalty(path: str | Path, penalty: L2SP | EWC, *, extra: Mapping[str, str] | None = None) -> None:
    """Write the penalty's tensors and hyperparameters as one safetensors file, atomically."""
    from safetensors.torch import save

    from medtl.fileio import atomic_write_bytes

    meta = {"format": "medtl-continual/1", "method": penalty.method}
    meta.update({k: str(v) for k, v in penalty.hparams().items()})
    meta.update({k: str(v) for k, v in (extra or {}).items()})
    tensors = {k: v.contiguous() for k, v in penalty.state_dict().items()}
    atomic_write_bytes(path, save(tensors, metadata=meta))


def load_penalty(path: str | Path, model: nn.Module) -> L2SP | EWC:
    """Rebuild the penalty saved by :func:`save_penalty` (safetensors only, no pickle)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelDirError("continual penalty file not found", path=path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            state = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open has no iter)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelDirError(f"unreadable continual penalty file: {exc}", path=path) from exc
    method = meta.get("method")
    try:
        if method == "l2sp":
            prefixes = tuple(p for p in meta.get("new_prefixes", "").split(",") if p)
            penalty: L2SP | EWC = L2SP(model, {}, alpha=float(meta["alpha"]), beta=float(meta["beta"]),
                                       new_prefixes=prefixes)
        elif method == "ewc":
            penalty = EWC(model, {}, {}, lam=float(meta["lam"]))
        else:
            raise ModelDirError(f"unknown continual method {method!r} in metadata", path=path)
    except (KeyError, ValueError) as exc:
        raise ModelDirError(f"incomplete continual metadata: {exc}", path=path) from exc
    penalty.load_state_dict(state)
    return penalty
