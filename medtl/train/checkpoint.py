"""Per-epoch checkpoints: ``checkpoints/last.safetensors`` (weights) + ``last_state.pt``.

``last_state.pt`` holds only tensors and plain Python values (optimizer, scheduler and GradScaler
state dicts, epoch, RNG states, best metric, history), so it loads with
``torch.load(weights_only=True)``: resuming never executes a pickle. Both files are written
atomically; the previous weights are kept as ``prev.safetensors`` and the state file is written
last and names its epoch, so a crash between the writes resumes from the previous complete epoch
(each weights file carries its epoch in its metadata; the one matching the state is loaded).
"""

from __future__ import annotations

import io
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from medtl.errors import ModelDirError
from medtl.fileio import atomic_write_bytes

WEIGHTS = "last.safetensors"
STATE = "last_state.pt"
BEST = "best.safetensors"
PREV = "prev.safetensors"
EMA = "ema.safetensors"  # the weight average (optim.ema_decay > 0), rotated like the weights
EMA_PREV = "ema_prev.safetensors"


def state_dict_for_save(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Contiguous CPU copies; tied tensors are cloned so safetensors accepts them."""
    out, seen = {}, {}
    for k, v in model.state_dict().items():
        t = v.detach().to("cpu")
        ptr = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape)) if t.numel() else None
        if ptr is not None and ptr in seen:
            t = t.clone()
        elif ptr is not None:
            seen[ptr] = k
        out[k] = t.contiguous().clone() if not t.is_contiguous() else t.clone()
    return out


def save_weights(path: Path, model: torch.nn.Module, metadata: dict[str, str] | None = None) -> None:
    from safetensors.torch import save

    atomic_write_bytes(path, save(state_dict_for_save(model), metadata=metadata or {}))


def load_weights(path: Path, model: torch.nn.Module) -> dict[str, str]:
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except Exception as exc:
        raise ModelDirError(f"unreadable checkpoint weights: {exc}", path=path) from None
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise ModelDirError(
            f"checkpoint does not match the model (missing {list(missing)[:5]}, unexpected {list(unexpected)[:5]})",
            path=path,
        )
    return meta


def _epoch_of(path: Path) -> str | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            return (fh.metadata() or {}).get("epoch")
    except Exception:
        return None


def rng_state() -> dict:
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "python": [int(v) for v in py_state[1]],
        "python_version": int(py_state[0]),
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, state["numpy_pos"], 0, 0.0))
    random.setstate((state["python_version"], tuple(state["python"]), None))


@dataclass
class TrainState:
    """Everything besides the weights that a resumed run needs."""

    epoch: int  # last completed epoch (1-based)
    best_metric: float
    best_epoch: int
    bad_epochs: int  # epochs without improvement (early stopping)
    history: list[dict] = field(default_factory=list)
    optimizer: dict | None = None
    scheduler: dict | None = None
    scaler: dict | None = None
    extra: dict = field(default_factory=dict)


def save_checkpoint(ckpt_dir: Path, model: torch.nn.Module, state: TrainState,
                    ema: torch.nn.Module | None = None) -> None:
    ckpt_dir = Path(ckpt_dir)
    for current, prev, module in ((WEIGHTS, PREV, model), (EMA, EMA_PREV, ema)):
        if module is None:
            continue
        if (ckpt_dir / current).is_file():
            os.replace(ckpt_dir / current, ckpt_dir / prev)
        save_weights(ckpt_dir / current, module, {"epoch": str(state.epoch)})
    payload = {
        "epoch": state.epoch,
        "best_metric": float(state.best_metric),
        "best_epoch": state.best_epoch,
        "bad_epochs": state.bad_epochs,
        "history": state.history,
        "optimizer": state.optimizer,
        "scheduler": state.scheduler,
        "scaler": state.scaler,
        "extra": state.extra,
        "rng": rng_state(),
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(ckpt_dir / STATE, buf.getvalue())


def _load_matching(ckpt_dir: Path, names: tuple[str, str], module: torch.nn.Module, epoch) -> None:
    for name in names:
        if (ckpt_dir / name).is_file() and _epoch_of(ckpt_dir / name) == str(epoch):
            load_weights(ckpt_dir / name, module)
            return
    raise ModelDirError(f"no checkpoint {names[0]} matches the saved state of epoch {epoch}", path=ckpt_dir)


def load_checkpoint(ckpt_dir: Path, model: torch.nn.Module, ema: torch.nn.Module | None = None) -> TrainState | None:
    """Restore weights (and the weight average), and RNG; ``None`` when there is no complete checkpoint."""
    ckpt_dir = Path(ckpt_dir)
    spath = ckpt_dir / STATE
    if not spath.is_file():
        return None
    try:
        payload = torch.load(spath, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelDirError(f"unreadable training state (refusing anything but plain data): {exc}", path=spath) from None
    _load_matching(ckpt_dir, (WEIGHTS, PREV), model, payload["epoch"])
    if ema is not None:
        _load_matching(ckpt_dir, (EMA, EMA_PREV), ema, payload["epoch"])
    set_rng_state(payload["rng"])
    return TrainState(
        epoch=int(payload["epoch"]),
        best_metric=float(payload["best_metric"]),
        best_epoch=int(payload["best_epoch"]),
        bad_epochs=int(payload["bad_epochs"]),
        history=list(payload["history"]),
        optimizer=payload["optimizer"],
        scheduler=payload["scheduler"],
        scaler=payload["scaler"],
        extra=dict(payload["extra"] or {}),
    )
