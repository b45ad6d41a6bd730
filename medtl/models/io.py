"""The self-describing model directory: ``model.safetensors`` + ``model.json``.

Saving writes the weights first, then model.json (which names the weights' sha256 as
``model_id``), both atomically, so a directory with a model.json is always complete. Loading
rebuilds the architecture from model.json with ``weights="none"`` (no pretrained file is needed),
reads the weights with safetensors only (no pickle is ever executed) and checks keys and shapes
strictly before anything is copied in. See docs/models.md for the format.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from medtl.errors import ConfigError, MedtlError, ModelDirError
from medtl.fileio import atomic_write_bytes, atomic_write_json, sha256_file
from medtl.models.model import MAIN_HEAD, MedtlModel, ModelConfig, build_model

FORMAT = "medtl-model/1"
WEIGHTS_FILE = "model.safetensors"
INFO_FILE = "model.json"
RESERVED_KEYS = ("format", "medtl_version", "model_id", "created", "task", "model", "heads", "preprocess",
                 "label_names", "multilabel", "threshold", "temperature", "positive_class", "provenance", "lineage")


@dataclass
class LoadedModel:
    """A model directory in memory; ``model`` is in eval mode on the requested device."""

    model: MedtlModel
    info: dict[str, Any]  # the whole model.json
    preprocess: dict[str, Any]  # PreprocessConfig.to_dict(); rebuild with PreprocessConfig.from_dict
    label_names: list[str]
    task: str
    threshold: float
    temperature: float
    model_id: str
    multilabel: bool = False
    path: str = ""
    positive_class: int = 1  # binary: the class sensitivity refers to (model dirs without the key: 1)

    def preprocess_config(self):
        """The stored preprocessing as ``medtl.data.transforms.PreprocessConfig``."""
        from medtl.data.transforms import PreprocessConfig

        try:
            return PreprocessConfig.from_dict(self.preprocess)
        except (MedtlError, TypeError, ValueError) as exc:
            reason = exc.message if isinstance(exc, MedtlError) else str(exc)
            raise ModelDirError(f"bad 'preprocess' in {INFO_FILE}: {reason}", path=self.path,
                                code="bad_json") from None


def save_model_dir(
    run_dir: str | Path,
    model: MedtlModel,
    *,
    model_cfg: ModelConfig,
    preprocess: Any,
    label_names: list[str],
    multilabel: bool = False,
    threshold: float = 0.5,
    temperature: float = 1.0,
    positive_class: int | None = None,
    provenance: dict[str, Any] | None = None,
    lineage: list | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``run_dir/model.safetensors`` and ``run_dir/model.json``; returns the model.json dict.

    ``positive_class`` (binary single-label classification only; default 1) is the class index that
    sensitivity refers to; other models store ``null``.
    """
    run_dir = Path(run_dir)
    for wrapper_attr in ("module", "_orig_mod"):  # DistributedDataParallel, torch.compile
        model = getattr(model, wrapper_attr, model)
    _check_consistent(model, model_cfg, label_names)
    pre = preprocess.to_dict() if hasattr(preprocess, "to_dict") else preprocess
    if not isinstance(pre, dict):
        raise ConfigError(f"preprocess must be a dict or have to_dict(), got {type(pre).__name__}")
    clash = sorted(set(extra or {}) & set(RESERVED_KEYS))
    if clash:
        raise ConfigError(f"extra model.json keys clash with reserved keys: {', '.join(clash)}")
    positive_class = _positive_class(model.task, label_names, multilabel, positive_class)

    from safetensors.torch import save as safetensors_bytes

    weights = run_dir / WEIGHTS_FILE
    atomic_write_bytes(weights, safetensors_bytes(_plain_state_dict(model), metadata={"format": "pt"}))
    pretrained = getattr(model.encoder, "pretrained_cfg", None)
    info: dict[str, Any] = {
        "format": FORMAT,
        "medtl_version": _version(),
        "model_id": sha256_file(weights),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "task": model.task,
        "model": model_cfg.to_dict(),
        "heads": {"active": model.active_head, "outputs": model.head_outputs()},
        "preprocess": _jsonable(pre),
        "label_names": [str(n) for n in label_names],
        "multilabel": bool(multilabel),
        "threshold": float(threshold),
        "temperature": float(temperature),
        "positive_class": positive_class,
        "provenance": {
            "encoder": model_cfg.encoder,
            "weights": model_cfg.weights,
            "weights_file": getattr(pretrained, "file_name", None),
            "weights_sha256": getattr(pretrained, "sha256", None),
            "init_from": None,
            **(provenance or {}),
        },
        "lineage": list(lineage or []),
        **(extra or {}),
    }
    atomic_write_json(run_dir / INFO_FILE, info)
    return info


def load_model_dir(path: str | Path, device: str | torch.device = "cpu", *,
                   allow_pretraining: bool = False) -> LoadedModel:
    """Rebuild a saved model (eval mode) from its directory; any problem -> :class:`ModelDirError`.

    A ``medtl pretrain`` directory (model.json ``pretraining``) restores images rather than
    predicting anything: it is refused (code ``not_a_task_model``) unless ``allow_pretraining``.
    """
    path = Path(path)
    info = read_model_info(path)
    if info.get("pretraining") and not allow_pretraining:
        raise ModelDirError("a self-supervised pretraining run (medtl pretrain): it has no diagnosis or "
                            "segmentation head; train one from it with medtl train --weights DIR",
                            path=path, code="not_a_task_model")
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelDirError(f"{WEIGHTS_FILE} is missing", path=path, code="missing_file")
    if sha256_file(weights) != info["model_id"]:
        raise ModelDirError(f"{WEIGHTS_FILE} does not match model_id in {INFO_FILE} (file changed or corrupt)",
                            path=path, code="checksum_mismatch")
    try:
        cfg = dataclasses.replace(ModelConfig.from_dict(info["model"]), weights="none")
        model = build_model(cfg)
    except (MedtlError, ValueError, TypeError) as exc:  # e.g. unknown encoder, decoder too short
        reason = exc.message if isinstance(exc, MedtlError) else str(exc)
        raise ModelDirError(f"cannot rebuild the model from {INFO_FILE}: {reason}", path=path,
                            code="bad_json") from None
    heads = info.get("heads") or {"active": MAIN_HEAD, "outputs": {MAIN_HEAD: cfg.num_classes}}
    try:
        for name, n in heads["outputs"].items():
            if name != MAIN_HEAD:
                model.add_head(name, int(n), activate=False)
        model.set_active_head(heads["active"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelDirError(f"bad 'heads' entry in {INFO_FILE}: {exc}", path=path, code="bad_json") from None
    _load_weights_strict(model, weights, path)
    _record_source(model, info, weights)
    model.to(device).eval()
    return LoadedModel(
        model=model, info=info, preprocess=info["preprocess"], label_names=list(info["label_names"]),
        task=info["task"], threshold=float(info.get("threshold", 0.5)),
        temperature=float(info.get("temperature", 1.0)), model_id=info["model_id"],
        multilabel=bool(info.get("multilabel", False)), path=str(path), positive_class=stored_positive_class(info),
    )


def stored_positive_class(info: dict[str, Any]) -> int:
    """The positive class index in a model.json dict (1 when absent: model dirs from before the key)."""
    value = info.get("positive_class")
    return 1 if value is None else int(value)


def binary_single_label(task: str, label_names: list[str], multilabel: bool) -> bool:
    """A binary single-label classifier: the only kind with a positive class and a threshold on it.
    (``medtl.train.config.resolve_positive_class`` checks the user's setting the same way before
    training; the config layer stays free of torch, which this module imports.)"""
    return task == "classification" and len(label_names) == 2 and not multilabel


def _positive_class(task: str, label_names: list[str], multilabel: bool, value: int | None) -> int | None:
    binary = binary_single_label(task, label_names, multilabel)
    if value is None:
        return 1 if binary else None
    if not binary or value not in (0, 1):
        raise ConfigError(f"positive_class={value!r} needs a binary single-label classifier "
                          f"(task {task}, labels {list(label_names)}, multilabel {multilabel})")
    return int(value)


def read_model_info(path: str | Path) -> dict[str, Any]:
    """Read and validate ``path/model.json`` without building the model (cheap; scoring, review)."""
    path = Path(path)
    if not path.is_dir():
        raise ModelDirError("not a model directory (no such folder)", path=path, code="missing_file")
    info_file = path / INFO_FILE
    if not info_file.is_file():
        raise ModelDirError(f"{INFO_FILE} is missing", path=path, code="missing_file")
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirError(f"{INFO_FILE} is not valid JSON: {exc}", path=path, code="bad_json") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        found = info.get("format") if isinstance(info, dict) else type(info).__name__
        raise ModelDirError(f"{INFO_FILE} format is {found!r}, expected {FORMAT!r}", path=path, code="bad_json")
    missing = [k for k in ("model_id", "task", "model", "preprocess", "label_names") if k not in info]
    if missing:
        raise ModelDirError(f"{INFO_FILE} lacks {', '.join(missing)}", path=path, code="bad_json")
    return info


def model_dir_info(weights: str | Path) -> dict[str, Any] | None:
    """model.json of ``weights`` when it names a medtl model directory rather than a named source
    (``none``, ``imagenet``, ``medicalnet``), else None; a folder with a bad model.json raises."""
    from medtl.models.registry import NAMED_SOURCES

    if str(weights) in NAMED_SOURCES or not Path(weights).is_dir():
        return None
    return read_model_info(weights)


def _load_weights_strict(model: MedtlModel, weights: Path, path: Path) -> None:
    from safetensors.torch import load_file

    try:
        state = load_file(str(weights), device="cpu")
    except Exception as exc:  # safetensors raises its own error types for a corrupt file
        raise ModelDirError(f"{WEIGHTS_FILE} is unreadable: {exc}", path=path, code="bad_weights") from None
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
              if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        parts = [f"{label} ({len(items)}): {', '.join(items[:5])}"
                 for label, items in (("missing keys", missing), ("unexpected keys", unexpected),
                                      ("shape mismatches", shapes)) if items]
        raise ModelDirError(f"{WEIGHTS_FILE} does not fit the architecture in {INFO_FILE}: " + "; ".join(parts),
                            path=path, code="weights_mismatch")
    model.load_state_dict(state, strict=True)


def _record_source(model: MedtlModel, info: dict[str, Any], weights: Path) -> None:
    """The rebuilt encoder says where its weights now come from: this model directory."""
    cfg = getattr(model.encoder, "pretrained_cfg", None)
    if cfg is None:
        return
    cfg.source, cfg.file_name, cfg.path, cfg.sha256 = "file", weights.name, str(weights), info["model_id"]
    pre = info.get("preprocess") or {}
    if isinstance(pre, dict) and pre.get("mean") and pre.get("std"):
        cfg.mean, cfg.std = tuple(pre["mean"]), tuple(pre["std"])
    first = (info.get("provenance") or {}).get("weights_file")
    cfg.notes = f"medtl model {info['model_id'][:12]}" + (f", initialised from {first}" if first else "")


def _plain_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """CPU, contiguous tensors; a tensor sharing storage with an earlier one (tied weights) is
    cloned, because safetensors refuses shared storage."""
    out, seen = {}, set()
    for key, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        ptr = t.untyped_storage().data_ptr()
        if t.numel() and ptr in seen:
            t = t.clone()
        seen.add(t.untyped_storage().data_ptr())
        out[key] = t
    return out


def _check_consistent(model: MedtlModel, cfg: ModelConfig, label_names: list[str]) -> None:
    enc = model.encoder
    if (cfg.task, cfg.encoder, cfg.spatial_dims, cfg.in_channels) != (
            model.task, enc.name, enc.spatial_dims, enc.in_channels):
        raise ConfigError(f"model_cfg ({cfg.task}, {cfg.encoder}, {cfg.spatial_dims}D, {cfg.in_channels} ch) does "
                          f"not describe the model ({model.task}, {enc.name}, {enc.spatial_dims}D, "
                          f"{enc.in_channels} ch)")
    main = model.heads[MAIN_HEAD].num_outputs
    if main != cfg.num_classes:
        raise ConfigError(f"model_cfg.num_classes={cfg.num_classes} but the main head has {main} outputs")
    n = model.num_classes
    if len(label_names) != n and not (n == 1 and len(label_names) == 2):
        raise ConfigError(f"{len(label_names)} label names for a head with {n} outputs")


def _jsonable(obj: Any) -> Any:
    """Tuples -> lists etc., so model.json round-trips to the same dict."""
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def _version() -> str:
    from medtl import __version__

    return __version__
