"""Encoder registry: one place to discover and build every encoder (the timm pattern).

``@register_encoder("name", ...)`` stores a factory; :func:`create_encoder` resolves the weight
source, builds the network and loads the weights; :func:`list_encoders` finds names by pattern.

Every encoder follows the :class:`Encoder` protocol (multi-scale features shallow -> deep, pooled
features, parameter groups stem -> top) and carries a :class:`PretrainedConfig` describing where
its weights came from and how inputs must be normalised to match them.
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from medtl.errors import ConfigError

# Modules that register the built-in encoders (explicit list, no folder scanning).
_BUILTIN_MODULES = (
    "medtl.models.tiny",
    "medtl.models.efficientnet",
    "medtl.models.resnet",
    "medtl.models.densenet",
    "medtl.models.medicalnet",
    "medtl.models.unet",
)
NAMED_SOURCES = ("none", "imagenet", "medicalnet")


@dataclass
class PretrainedConfig:
    """Where an encoder's weights come from and the input they expect.

    ``mean``/``std`` are per *encoder input* channel (already adapted to ``in_channels``);
    ``in_chans`` is the channel count of the published weights.
    """

    source: str = "none"  # "none" | "imagenet" | "medicalnet" | "file" (a medtl model directory)
    file_name: str | None = None
    url: str | None = None
    sha256: str | None = None  # of the file actually loaded (provenance), filled at load
    input_size: tuple[int, ...] | None = None
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    in_chans: int = 1
    licence: str | None = None
    notes: str = ""
    path: str | None = None  # the file loaded, when any

    def to_dict(self) -> dict:
        return asdict(self)


class Encoder(nn.Module):
    """Base class of every medtl encoder.

    Subclasses set ``feature_channels``, ``feature_reductions``, ``num_features`` and implement
    :meth:`forward_features` and :meth:`_group_modules`.
    """

    name: str
    spatial_dims: int
    in_channels: int
    feature_channels: list[int]
    feature_reductions: list[int]
    num_features: int

    def __init__(self, *, name: str, spatial_dims: int, in_channels: int):
        super().__init__()
        self.name = name
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.pretrained_cfg = PretrainedConfig(
            mean=(0.5,) * in_channels, std=(0.5,) * in_channels, in_chans=in_channels
        )

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Global average pooling of the deepest feature map: ``(B, num_features)``."""
        return self.pool(self.forward_features(x)[-1])

    @property
    def min_input_size(self) -> int:
        """The smallest input extent per axis the encoder runs on (its deepest map is then 1 voxel)."""
        return max(self.feature_reductions)

    @staticmethod
    def pool(feature: torch.Tensor) -> torch.Tensor:
        return feature.flatten(2).mean(-1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.forward_features(x)

    def _group_modules(self) -> list[tuple[str, list[nn.Module]]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def param_groups(self) -> list[tuple[str, list[nn.Parameter]]]:
        """Parameters by depth, ordered stem -> top; every parameter appears exactly once."""
        groups, seen = [], set()
        for group_name, modules in self._group_modules():
            params = []
            for module in modules:
                for p in module.parameters():
                    if id(p) not in seen:
                        seen.add(id(p))
                        params.append(p)
            groups.append((group_name, params))
        missing = [n for n, p in self.named_parameters() if id(p) not in seen]
        if missing:  # a programming error in a subclass, not a user error
            raise RuntimeError(f"{self.name}: parameters outside every group: {missing[:5]}")
        return groups


class StagedEncoder(Encoder):
    """An encoder that is a plain chain of stages (``self.stages``, an ``nn.ModuleList``): each
    stage's output is one feature map, the first stage is the stem, each later one its own group."""

    stages: nn.ModuleList

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features

    def _group_modules(self):
        return [("stem", [self.stages[0]])] + [
            (f"stage{i}", [stage]) for i, stage in enumerate(self.stages[1:], start=1)
        ]


@dataclass
class EncoderEntry:
    name: str
    factory: Callable[..., Encoder]
    spatial_dims: tuple[int, ...]
    description: str = ""
    specs: dict[str, Any] = field(default_factory=dict)  # source -> pretrained.WeightSpec

    @property
    def sources(self) -> tuple[str, ...]:
        return ("none", *self.specs)


_REGISTRY: dict[str, EncoderEntry] = {}


def register_encoder(
    name: str,
    *,
    spatial_dims: tuple[int, ...] = (2, 3),
    description: str = "",
    weights: dict[str, Any] | None = None,
) -> Callable:
    """Decorator registering ``factory(*, weights, spatial_dims, in_channels, weights_dir, **kw)``.

    ``weights`` maps each pretrained source (``"imagenet"``, ``"medicalnet"``) to its
    :class:`~medtl.models.pretrained.WeightSpec`; ``"none"`` (random init) is always available.
    """

    def decorator(factory: Callable[..., Encoder]) -> Callable[..., Encoder]:
        if name in _REGISTRY:
            raise ValueError(f"encoder {name!r} registered twice")
        _REGISTRY[name] = EncoderEntry(name, factory, tuple(spatial_dims), description, dict(weights or {}))
        return factory

    return decorator


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # an encoder family not part of this build
            if exc.name != module:
                raise


def list_encoders(pattern: str | None = None) -> list[str]:
    """Registered encoder names, sorted; ``pattern`` is a shell-style wildcard (``"resnet*"``)."""
    _load_builtins()
    names = sorted(_REGISTRY)
    return [n for n in names if pattern is None or fnmatch.fnmatchcase(n, pattern)]


def get_encoder_entry(name: str) -> EncoderEntry:
    _load_builtins()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown encoder {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def create_encoder(
    name: str,
    *,
    weights: str | Path | None = "none",
    spatial_dims: int = 2,
    in_channels: int = 1,
    weights_dir: str | Path | None = None,
    **kwargs,
) -> Encoder:
    """Build encoder ``name`` and load its weights.

    ``weights``: ``"none"`` (random init), a named source (``"imagenet"``, ``"medicalnet"``) or a
    path to a medtl model directory (its ``encoder.*`` weights are loaded). Extra keyword arguments
    (e.g. ``keep_classifier=True``) go to the factory; ``None`` values are dropped.
    """
    entry = get_encoder_entry(name)
    if spatial_dims not in entry.spatial_dims:
        raise ConfigError(f"encoder {name!r} supports spatial_dims {entry.spatial_dims}, not {spatial_dims}")
    if int(in_channels) < 1:
        raise ConfigError(f"in_channels must be >= 1, got {in_channels}")
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    unknown = sorted(set(kwargs) - set(inspect.signature(entry.factory).parameters))
    if unknown:
        raise ConfigError(f"encoder {name!r} does not accept {', '.join(unknown)}")
    source = "none" if weights is None else str(weights)
    if source in NAMED_SOURCES:
        if source not in entry.sources:
            raise ConfigError(f"encoder {name!r} has no {source!r} weights; sources: {', '.join(entry.sources)}")
        spec = entry.specs.get(source)
        if spec is not None:  # fail fast, before building a large network
            from medtl.models.pretrained import locate

            if spec.spatial_dims == 3 and spatial_dims != 3:
                raise ConfigError(f"{source} weights for {name!r} are 3D; spatial_dims={spatial_dims} "
                                  "cannot use them")
            locate(spec, weights_dir=weights_dir, what=f"{name} {source} weights", fetch=True)
        return entry.factory(weights=source, spatial_dims=spatial_dims, in_channels=int(in_channels),
                             weights_dir=weights_dir, **kwargs)
    # Anything else is a path to an earlier medtl run (model directory).
    from medtl.models.weights import load_encoder_from_model_dir

    encoder = entry.factory(weights="none", spatial_dims=spatial_dims, in_channels=int(in_channels),
                            weights_dir=weights_dir, **kwargs)
    load_encoder_from_model_dir(encoder, Path(weights))
    return encoder
