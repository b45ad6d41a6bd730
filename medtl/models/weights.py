"""Safe weight loading: locate files, refuse code-executing pickles, load keys exactly.

* medtl's own weights are safetensors (no code can run while reading them);
* third-party ``.pth`` files go through ``torch.load(weights_only=True)``: a pickle that would
  import or call anything outside plain tensors/containers is refused as ``unsafe_weights``;
* :func:`load_exact` never loads partially: any missing/unexpected key or shape difference raises
  ``weights_mismatch`` listing the first offenders.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from medtl.errors import WeightsError
from medtl.fileio import sha256_file

HUB_SUBDIR = ("hub", "checkpoints")
ENCODER_PREFIX = "encoder."  # MedtlModel holds its encoder as attribute ``encoder``
_SHOW = 5  # offenders listed in a mismatch message


def search_dirs(weights_dir: str | Path | None = None) -> list[Path]:
    """Folders searched for pretrained files, in order: ``weights_dir``, ``$MEDTL_WEIGHTS_DIR``,
    the torch hub cache (``$TORCH_HOME/hub/checkpoints`` or ``~/.cache/torch/hub/checkpoints``)."""
    dirs: list[Path] = []
    if weights_dir:
        dirs.append(Path(weights_dir).expanduser())
    if os.environ.get("MEDTL_WEIGHTS_DIR"):
        dirs.append(Path(os.environ["MEDTL_WEIGHTS_DIR"]).expanduser())
    dirs.append(hub_checkpoint_dir())
    return dirs


def hub_checkpoint_dir() -> Path:
    torch_home = os.environ.get("TORCH_HOME")
    base = Path(torch_home).expanduser() if torch_home else Path("~/.cache/torch").expanduser()
    return base.joinpath(*HUB_SUBDIR)


def find_weights_file(
    file_names: Iterable[str],
    *,
    weights_dir: str | Path | None = None,
    url: str | None = None,
    what: str = "weights",
    extra_paths: Iterable[Path] = (),
) -> Path:
    """First existing file among ``file_names`` in :func:`search_dirs` (then ``extra_paths``).

    Raises ``WeightsError(weights_missing)`` naming the file, the folders and where to get it.
    """
    file_names = list(file_names)
    dirs = search_dirs(weights_dir)
    for folder in dirs:
        for name in file_names:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    for candidate in extra_paths:
        if Path(candidate).is_file():
            return Path(candidate)
    wanted = " or ".join(file_names)
    where = "; ".join(str(d) for d in dirs)
    hint = f" Download it from {url} and put it" if url else " Put it"
    raise WeightsError(
        f"{what}: file {wanted} not found.{hint} in one of: --weights-dir, $MEDTL_WEIGHTS_DIR, or the "
        f"torch hub cache {hub_checkpoint_dir()} (searched: {where}). "
        "Or use weights='none' to train from scratch.",
        path=file_names[0],
        code="weights_missing",
    )


def load_torch_file(path: str | Path) -> dict:
    """``torch.load(weights_only=True)`` on CPU; refused pickles become ``unsafe_weights``."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError("weights file not found", path=path, code="weights_missing")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only refused a global / reduce call
        lines = [ln.strip() for ln in str(exc).splitlines() if "global" in ln.lower() or "unsupported" in ln.lower()]
        detail = lines[0][:200] if lines else type(exc).__name__
        raise WeightsError(
            f"refused to load: the pickle would run code or import objects that are not plain "
            f"tensors ({detail}). medtl never unpickles such files; convert them to a plain state "
            "dict (or safetensors) from a source you trust.", path=path, code="unsafe_weights") from None
    except Exception as exc:  # truncated zip, not a torch file at all...
        raise WeightsError(f"cannot read weights file: {type(exc).__name__}: {str(exc)[:200]}",
                           path=path, code="weights_unreadable") from None
    if not isinstance(obj, Mapping):
        raise WeightsError(f"expected a state dict (mapping), got {type(obj).__name__}",
                           path=path, code="weights_mismatch")
    return dict(obj)


def load_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise WeightsError("weights file not found", path=path, code="weights_missing")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read safetensors file: {exc}", path=path,
                           code="weights_unreadable") from None


def tensors_only(state: Mapping, *, path: str | Path) -> dict[str, torch.Tensor]:
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"not a state dict of tensors (e.g. key {bad[0]!r} holds "
                           f"{type(state[bad[0]]).__name__})", path=path, code="weights_mismatch")
    return dict(state)


def check_exact(module: nn.Module, state: Mapping[str, torch.Tensor], *, path: str | Path,
                what: str = "weights") -> dict[str, torch.Tensor]:
    """Compare ``state`` with ``module.state_dict()``; raise ``weights_mismatch`` on any difference.

    The one tolerance: BatchNorm ``num_batches_tracked`` counters absent from older files (PyTorch
    < 0.4.1 did not save them) are taken from the module; they do not affect the output.
    """
    target = module.state_dict()
    state = dict(state)
    for key in target:
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = target[key]
    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(target[k].shape)}"
              for k in target if k in state and tuple(state[k].shape) != tuple(target[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)):
            if items:
                more = f" (+{len(items) - _SHOW} more)" if len(items) > _SHOW else ""
                parts.append(f"{len(items)} {label}: {', '.join(items[:_SHOW])}{more}")
        raise WeightsError(f"{what} do not match the model: " + "; ".join(parts), path=path,
                           code="weights_mismatch")
    return state


def load_exact(module: nn.Module, state: Mapping[str, torch.Tensor], *, path: str | Path,
               what: str = "weights") -> None:
    """Load ``state`` into ``module`` only if keys and shapes match exactly (see :func:`check_exact`)."""
    state = check_exact(module, state, path=path, what=what)
    target = module.state_dict()
    state = {k: v.to(target[k].dtype) for k, v in state.items()}
    module.load_state_dict(state, strict=True)


def load_encoder_from_model_dir(encoder: nn.Module, run_dir: Path) -> None:
    """Load the ``encoder.*`` weights of an earlier medtl run (model directory) into ``encoder``."""
    run_dir = Path(run_dir)
    meta_path, weights_path = run_dir / "model.json", run_dir / "model.safetensors"
    if not run_dir.is_dir() or not meta_path.is_file() or not weights_path.is_file():
        raise WeightsError(
            "weights must be 'none', 'imagenet', 'medicalnet' or a medtl model directory holding "
            "model.json and model.safetensors", path=run_dir, code="weights_missing")
    try:
        info = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"cannot read model.json: {exc}", path=meta_path, code="weights_unreadable") from None
    model_cfg = info.get("model") if isinstance(info, dict) else None
    saved_encoder = model_cfg.get("encoder") if isinstance(model_cfg, dict) else None
    name = getattr(encoder, "name", None)
    if saved_encoder and name and saved_encoder != name:
        raise WeightsError(f"model directory holds encoder {saved_encoder!r}, not {name!r}",
                           path=run_dir, code="weights_mismatch")
    full = load_safetensors(weights_path)
    state = {k[len(ENCODER_PREFIX):]: v for k, v in full.items() if k.startswith(ENCODER_PREFIX)}
    if not state:
        raise WeightsError(f"no '{ENCODER_PREFIX}*' weights in model.safetensors", path=weights_path,
                           code="weights_mismatch")
    load_exact(encoder, state, path=weights_path, what=f"encoder weights of {run_dir}")
    cfg = getattr(encoder, "pretrained_cfg", None)
    if cfg is not None:
        cfg.source, cfg.path, cfg.file_name = "file", str(weights_path), weights_path.name
        cfg.sha256 = sha256_file(weights_path)
        preprocess = info.get("preprocess") or {}
        if preprocess.get("mean") and preprocess.get("std"):
            cfg.mean, cfg.std = tuple(preprocess["mean"]), tuple(preprocess["std"])
        cfg.notes = f"encoder from medtl model {info.get('model_id', '?')} ({run_dir})"


def load_decoder_from_model_dir(model: nn.Module, run_dir: Path, *, with_head: bool = False) -> int:
    """Copy the ``decoder.*`` weights (and ``heads.main.*`` with ``with_head``) of a medtl model
    directory into ``model`` (a segmentation MedtlModel); every key must be there with its shape.

    A ``medtl pretrain`` directory holds the U-Net decoder it trained; a segmentation fine-tune
    starts from it with ``model.pretrained_decoder: true``. Returns the number of tensors copied.
    """
    run_dir = Path(run_dir)
    weights_path = run_dir / "model.safetensors"
    if getattr(model, "decoder", None) is None:
        raise WeightsError("model.pretrained_decoder applies to segmentation models (they have a decoder)",
                           path=run_dir, code="weights_mismatch")
    if not weights_path.is_file():
        raise WeightsError("model.pretrained_decoder needs --weights to be a medtl model directory "
                           "(model.safetensors not found)", path=run_dir, code="weights_missing")
    full = load_safetensors(weights_path)
    prefixes = ("decoder.",) + (("heads.main.",) if with_head else ())
    part = {k: v for k, v in full.items() if k.startswith(prefixes)}
    own = {k: v for k, v in model.state_dict().items() if k.startswith(prefixes)}
    missing = sorted(set(own) - set(part))
    shapes = [f"{k} {tuple(part[k].shape)} != {tuple(v.shape)}" for k, v in own.items()
              if k in part and tuple(part[k].shape) != tuple(v.shape)]
    if missing or shapes:
        detail = "; ".join(filter(None, [f"missing {missing[:3]}" if missing else "",
                                          f"shapes {shapes[:3]}" if shapes else ""]))
        raise WeightsError(f"the decoder in {weights_path.name} does not fit this model ({detail}); use the same "
                           "model.decoder_channels as the pretraining run (see its config.yaml)",
                           path=run_dir, code="weights_mismatch")
    model.load_state_dict({k: part[k] for k in own}, strict=False)
    return len(own)
