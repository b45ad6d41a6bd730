"""Typed training configuration: dataclasses mirrored by ``configs/default.yaml``.

Precedence: built-in defaults (the dataclasses) < ``configs/default.yaml`` < a user config file
< ``--set key=value`` overrides (and CLI flags, which the CLI turns into overrides). Unknown keys
and values of the wrong type raise :class:`~medtl.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medtl.continual.config import ContinualConfig
from medtl.errors import ConfigError

DEFAULT_YAML = Path(__file__).resolve().parents[2] / "configs" / "default.yaml"

TASKS = ("classification", "segmentation")
STRATEGIES = ("scratch", "linear-probe", "finetune")


@dataclass
class DataConfig:
    path: str | None = None  # manifest CSV or MedMNIST .npz
    seed: int = 0  # split seed
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    cache: str = "memory"  # memory | disk | none (decoded, preprocessed images)
    num_workers: int = 0
    balance: str = "weights"  # weights (class-weighted loss) | sampler (WeightedRandomSampler) | none
    # train on a seeded, stratified share of the training split's labels (val/test unchanged);
    # subsets are nested across fractions for one label_seed (medtl.data.subsets; medtl compare)
    label_fraction: float = 1.0
    label_seed: int = 0
    # draw at least this many training items per epoch (whole reshuffled passes, then part of one):
    # few labels then still get enough optimiser steps per epoch (nnU-Net fixes 250 batches an
    # epoch for the same reason). 0 = one pass over the training set. Never fewer than one pass.
    min_samples_per_epoch: int = 0


@dataclass
class ModelOptions:
    encoder: str = "tiny"
    weights: str = "none"  # imagenet | medicalnet | none | PATH
    weights_dir: str | None = None
    dropout: float = 0.0
    decoder_channels: list[int] | None = None
    # BatchNorm momentum while statistics train (null = keep the network's). MONAI's EfficientNet
    # uses 0.01 (TensorFlow's 0.99 decay): over a few hundred steps the running statistics barely
    # move from their init, and a model trained from scratch then predicts a constant in eval mode.
    bn_momentum: float | None = 0.1
    # segmentation with weights = a `medtl pretrain` directory (or --init-from one): start the U-Net
    # decoder from it too (same decoder_channels needed), not only the encoder
    pretrained_decoder: bool = False


@dataclass
class PreprocessOverrides:
    """Anything left ``None`` is derived from the data and the encoder's pretrained config."""

    image_size: int | list[int] | None = None  # N -> NxN (2D) or NxNxN (3D); or one size per axis
    in_channels: int | None = None
    intensity: str | None = None  # ct_window | mr_percentile | minmax | uint8
    window: list[float] | None = None  # [width, level] HU
    percentiles: list[float] | None = None
    target_spacing: list[float] | None = None
    canonical: bool | None = None
    resize_mode: str | None = None  # resize | pad_crop


@dataclass
class OptimConfig:
    lr: float = 2e-4  # head (and decoder) learning rate
    encoder_lr: float = 5e-5  # top encoder group; lower groups get encoder_lr * layer_decay**depth
    layer_decay: float = 1.0
    weight_decay: float = 1e-4
    schedule: str = "cosine"  # cosine | onecycle | constant
    warmup_epochs: float = 0.0
    grad_clip: float = 1.0
    label_smoothing: float = 0.0
    # > 0: validate and keep an exponential moving average of the weights (per-step decay, e.g. 0.998;
    # medtl.train.ema). 0 = off.
    ema_decay: float = 0.0


@dataclass
class FinetuneConfig:
    unfreeze_groups: int | None = None  # None = all encoder groups; N = the top N
    gradual_every: int = 0  # >0: unfreeze one more group every K epochs (starting from the top)
    lp_init: bool = True  # LP-FT: initialise the head from a linear probe first
    freeze_bn: bool = True  # keep the encoder's BatchNorm running statistics fixed (affine still trains)


@dataclass
class LinearProbeConfig:
    c_grid: list[float] = field(default_factory=lambda: [0.0001, 0.001, 0.01, 0.1, 1.0, 10.0, 100.0])
    max_iter: int = 2000
    cache_dir: str | None = None  # default <out>/embeddings; a shared folder reuses embeddings across runs


@dataclass
class TrainConfig:
    task: str = "classification"
    strategy: str = "finetune"
    out: str | None = None
    epochs: int = 10
    batch_size: int = 16
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    amp: bool = True  # autocast on CUDA only
    patience: int = 5  # early stopping on the validation metric (0 = off)
    calibrate: bool = True  # temperature scaling on the validation split (classification)
    resume: bool = False
    quiet: bool = False
    init_from: str | None = None  # an earlier run dir: start from its weights (continued learning)
    # binary classification: the class sensitivity refers to (a label name or index; None = the last class)
    positive_class: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelOptions = field(default_factory=ModelOptions)
    preprocess: PreprocessOverrides = field(default_factory=PreprocessOverrides)
    augment: dict[str, Any] = field(default_factory=dict)  # AugmentConfig fields (medtl.data)
    optim: OptimConfig = field(default_factory=OptimConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    linear_probe: LinearProbeConfig = field(default_factory=LinearProbeConfig)
    continual: ContinualConfig = field(default_factory=ContinualConfig)  # used with init_from

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> TrainConfig:
        if self.task not in TASKS:
            raise ConfigError(f"task must be one of {TASKS}, got {self.task!r}", code="bad_config")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        validate_run(self)
        if not 0.0 < self.data.label_fraction <= 1.0:
            raise ConfigError(f"data.label_fraction must be in (0, 1], got {self.data.label_fraction!r}")
        if self.data.balance not in ("weights", "sampler", "none"):
            raise ConfigError(f"data.balance must be weights, sampler or none, got {self.data.balance!r}")
        if self.positive_class is not None and self.task != "classification":
            raise ConfigError(f"positive_class={self.positive_class!r} applies to binary classification only "
                              f"(task is {self.task})")
        if self.model.pretrained_decoder and self.task != "segmentation":
            raise ConfigError("model.pretrained_decoder applies to segmentation (classification has no decoder)")
        self.continual.validate()
        if self.continual.method != "none" and not self.init_from:
            raise ConfigError("continual.method needs --init-from RUN_DIR (the model to continue from)")
        return self


def validate_run(cfg) -> None:
    """Checks shared by every run config (TrainConfig, medtl.pretrain's PretrainConfig): device,
    epochs/batch size, optimiser schedule and EMA, and the free-form augment mapping's keys."""
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda, got {cfg.device!r}")
    if cfg.optim.schedule not in ("cosine", "onecycle", "constant"):
        raise ConfigError(f"optim.schedule must be cosine, onecycle or constant, got {cfg.optim.schedule!r}")
    if not 0.0 <= cfg.optim.ema_decay < 1.0:
        raise ConfigError(f"optim.ema_decay must be in [0, 1) (0 = off), got {cfg.optim.ema_decay!r}")
    if not isinstance(cfg.data.min_samples_per_epoch, int) or cfg.data.min_samples_per_epoch < 0:
        raise ConfigError(f"data.min_samples_per_epoch must be a whole number >= 0 (0 = one pass), "
                          f"got {cfg.data.min_samples_per_epoch!r}")
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ConfigError("epochs and batch_size must be >= 1")
    if cfg.augment:
        from medtl.data.transforms import AugmentConfig

        known = {f.name for f in dataclasses.fields(AugmentConfig)}
        for key in cfg.augment:
            if key not in known:
                raise ConfigError(f"unknown config key 'augment.{key}' (known: {sorted(known)})")


def resolve_positive_class(value: str | int | None, label_names: list[str], *, multilabel: bool = False) -> int:
    """Index of the positive class of a binary problem: ``value`` as a label name, else as an index.

    ``None`` -> 1 (the last class; ignored by non-binary metrics). A value set for a problem that is
    not binary single-label, an unknown name or an index out of range -> :class:`ConfigError`.
    """
    if value is None:
        return 1
    names = [str(n) for n in label_names]
    if multilabel or len(names) != 2:
        kind = "multi-label" if multilabel else f"{len(names)}-class"
        raise ConfigError(f"positive_class={value!r} applies to binary classification only; this data is {kind} "
                          f"(label names: {names})")
    text = str(value).strip()
    if text in names:
        return names.index(text)
    if text.isdecimal() and int(text) < len(names):
        return int(text)
    raise ConfigError(f"positive_class={value!r} is neither a label name nor a class index; label names: {names}")


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted for floats."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0] if errors else ConfigError(f"bad value for {key!r}: {value!r}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key {key!r} expects a list, got {value!r}")
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        return [_coerce(v, item_tp, key) for v in value]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r} expects a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise ConfigError(f"config key {key!r} expects {getattr(tp, '__name__', tp)}, got {value!r}")


def _merge(obj: Any, updates: dict, prefix: str = "") -> None:
    hints = typing.get_type_hints(type(obj))
    for key, value in updates.items():
        full = f"{prefix}{key}"
        if key not in hints:
            raise ConfigError(f"unknown config key {full!r}")
        tp = hints[key]
        if _is_dataclass_type(tp):
            if not isinstance(value, dict):
                raise ConfigError(f"config key {full!r} expects a mapping, got {value!r}")
            _merge(getattr(obj, key), value, prefix=f"{full}.")
        else:
            setattr(obj, key, _coerce(value, tp, full))


def _read_yaml(path: str | Path) -> dict:
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror}", path=path) from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=path) from None
    if not isinstance(data, dict):
        raise ConfigError("a config file must hold a mapping at the top level", path=path)
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """``"optim.lr=1e-4"`` -> ``("optim.lr", 0.0001)``; values are parsed as YAML scalars/lists."""
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override must look like key=value, got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


# Public names for other run configs built from the same sections (medtl.pretrain.config).
merge_config = _merge
read_yaml = _read_yaml


def apply_overrides(cfg: TrainConfig, overrides: typing.Iterable[str | tuple[str, Any]]) -> TrainConfig:
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else item
        nested: dict = {}
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
        # "augment.flip=true": augment is a free mapping checked in validate()
        if parts[0] == "augment" and len(parts) == 2:
            cfg.augment[parts[1]] = value
            continue
        _merge(cfg, nested)
    return cfg


def config_from_dict(data: dict, *, base: TrainConfig | None = None) -> TrainConfig:
    cfg = base or TrainConfig()
    _merge(cfg, data)
    return cfg


def load_config(path: str | Path | None = None, overrides: typing.Iterable = ()) -> TrainConfig:
    """Defaults (configs/default.yaml when present) < ``path`` < ``overrides``; validated."""
    cfg = TrainConfig()
    if DEFAULT_YAML.is_file():
        config_from_dict(_read_yaml(DEFAULT_YAML), base=cfg)
    if path is not None:
        try:
            config_from_dict(_read_yaml(path), base=cfg)
        except ConfigError as exc:
            raise ConfigError(exc.message, path=path) from None
    apply_overrides(cfg, overrides)
    return cfg.validate()


def dump_yaml(cfg: TrainConfig) -> str:
    import yaml

    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
