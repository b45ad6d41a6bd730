"""The full model: an encoder plus a classification head or a U-Net decoder with a segmentation head.

``MedtlModel`` keeps its heads in a ``ModuleDict`` with one *active* head, so continual learning
can give a new task its own head (:meth:`MedtlModel.add_head`) while earlier heads stay usable.
State-dict keys are ``encoder.*``, ``decoder.*`` (segmentation) and ``heads.<name>.*``; the
model-directory weight source loads the ``encoder.*`` part of an earlier run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from medtl.errors import ConfigError
from medtl.models.decoder import DEFAULT_DECODER_CHANNELS, UNetDecoder, crop_to, pad_to_multiple
from medtl.models.heads import ClassificationHead, SegmentationHead

TASKS = ("classification", "segmentation")
MAIN_HEAD = "main"


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model's architecture (stored as model.json ``"model"``)."""

    task: str  # "classification" | "segmentation"
    encoder: str  # a registered encoder name (``medtl.models.list_encoders()``)
    weights: str  # "none" | "imagenet" | "medicalnet" | path to a medtl model directory
    spatial_dims: int  # 2 or 3
    in_channels: int
    num_classes: int  # classification: outputs of the head; segmentation: labels incl. background
    multilabel: bool = False
    dropout: float = 0.0
    decoder_channels: tuple[int, ...] = field(default=DEFAULT_DECODER_CHANNELS)

    def __post_init__(self) -> None:
        try:
            self.weights = str(self.weights)
            self.spatial_dims, self.in_channels = int(self.spatial_dims), int(self.in_channels)
            self.num_classes, self.dropout = int(self.num_classes), float(self.dropout)
            self.decoder_channels = tuple(int(c) for c in self.decoder_channels)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad model config value: {exc}") from None
        self.multilabel = bool(self.multilabel)
        if self.task not in TASKS:
            raise ConfigError(f"model.task must be one of {TASKS}, got {self.task!r}")
        if self.spatial_dims not in (2, 3):
            raise ConfigError(f"model.spatial_dims must be 2 or 3, got {self.spatial_dims!r}")
        if self.in_channels < 1 or self.num_classes < 1 or min(self.decoder_channels, default=0) < 1:
            raise ConfigError(f"model.in_channels, num_classes and decoder_channels must be >= 1, "
                              f"got {self.in_channels}, {self.num_classes}, {self.decoder_channels}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")
        if self.task == "segmentation" and self.multilabel:
            raise ConfigError("model.multilabel applies to classification only")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["decoder_channels"] = list(self.decoder_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"model config must be a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown model config keys: {', '.join(unknown)}")
        try:
            return cls(**d)
        except TypeError as exc:  # a required key is missing
            raise ConfigError(f"incomplete model config: {exc}") from None


class MedtlModel(nn.Module):
    """``encoder`` + (``decoder``) + named ``heads``; ``forward(x)`` returns the active head's logits.

    Classification: ``(B, K)`` from the encoder's pooled features. Segmentation: ``(B, K, *spatial)``
    at the input's resolution; inputs of any size are padded to a multiple of the encoder's
    largest reduction and the logits cropped back.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module, *, task: str, decoder: UNetDecoder | None = None):
        super().__init__()
        if task not in TASKS:
            raise ConfigError(f"task must be one of {TASKS}, got {task!r}")
        if (task == "segmentation") != (decoder is not None):
            raise ValueError("a segmentation model needs a decoder; a classification model has none")
        self.task = task
        self.encoder = encoder
        self.decoder = decoder
        self.heads = nn.ModuleDict({MAIN_HEAD: head})
        self.active_head = MAIN_HEAD

    # -- heads -------------------------------------------------------------------------------
    @property
    def head(self) -> nn.Module:
        return self.heads[self.active_head]

    @property
    def num_classes(self) -> int:
        return int(self.head.num_outputs)

    def head_outputs(self) -> dict[str, int]:
        """``{head name: number of outputs}`` in creation order (stored in model.json)."""
        return {name: int(h.num_outputs) for name, h in self.heads.items()}

    def add_head(self, name: str, num_outputs: int, *, activate: bool = True) -> nn.Module:
        """Add a new head for a new task; existing heads (and their outputs) are left untouched."""
        if name in self.heads:
            raise ValueError(f"head {name!r} already exists")
        if self.task == "classification":
            old = self.heads[MAIN_HEAD]
            head: nn.Module = ClassificationHead(self.encoder.num_features, num_outputs, old.drop.p)
        else:
            head = SegmentationHead(self.decoder.out_channels, num_outputs, self.encoder.spatial_dims)
        param = next(self.parameters())
        self.heads[name] = head.to(device=param.device, dtype=param.dtype)
        if activate:
            self.active_head = name
        return head

    def set_active_head(self, name: str) -> None:
        if name not in self.heads:
            raise ValueError(f"no head {name!r}; heads: {', '.join(self.heads)}")
        self.active_head = name

    # -- forward -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, heads: tuple[str, ...] | None = None):
        """The active head's logits; with ``heads`` (classification), a tuple of those heads' logits
        from one encoder pass. Going through ``forward`` (not ``forward_pooled`` + a head) keeps a
        DistributedDataParallel wrapper in charge of averaging the gradients."""
        if heads is not None:
            if self.task != "classification":
                raise ValueError("forward(heads=...) applies to classification models")
            pooled = self.encoder.forward_pooled(x)
            return tuple(self.heads[name](pooled) for name in heads)
        if self.task == "classification":
            return self.head(self.encoder.forward_pooled(x))
        padded, size = pad_to_multiple(x, self.decoder.divisor)
        decoded = self.decoder.decode(self.encoder.forward_features(padded))
        return crop_to(self.head(decoded), size)

    def forward_pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's pooled features ``(B, num_features)`` (linear probes, embeddings)."""
        return self.encoder.forward_pooled(x)

    def forward_head(self, pooled: torch.Tensor) -> torch.Tensor:
        """Classification logits from pooled features (e.g. cached embeddings)."""
        if self.task != "classification":
            raise ValueError("forward_head applies to classification models")
        return self.head(pooled)

    def param_groups(self) -> list[tuple[str, list[nn.Parameter]]]:
        """Encoder groups (stem -> top) then ``"head"`` (decoder, if any, + the active head).

        An encoder group that is itself called ``"head"`` (EfficientNet's final 1x1 conv) is
        listed as ``"encoder_head"`` here, so group names stay unique.
        """
        groups = [("encoder_head" if name == "head" else name, params)
                  for name, params in self.encoder.param_groups()]
        top = list(self.decoder.parameters()) if self.decoder is not None else []
        top += list(self.head.parameters())
        return groups + [("head", top)]


def build_model(cfg: ModelConfig, *, weights_dir: str | Path | None = None) -> MedtlModel:
    """Create the encoder (loading ``cfg.weights``) and put the task's head (and decoder) on it."""
    from medtl.models.registry import create_encoder

    encoder = create_encoder(cfg.encoder, weights=cfg.weights, spatial_dims=cfg.spatial_dims,
                             in_channels=cfg.in_channels, weights_dir=weights_dir)
    if cfg.task == "classification":
        return MedtlModel(encoder, ClassificationHead(encoder.num_features, cfg.num_classes, cfg.dropout),
                          task=cfg.task)
    decoder = UNetDecoder(encoder.feature_channels, encoder.feature_reductions, cfg.spatial_dims,
                          num_classes=None, decoder_channels=cfg.decoder_channels)
    head = SegmentationHead(decoder.out_channels, cfg.num_classes, cfg.spatial_dims)
    return MedtlModel(encoder, head, task=cfg.task, decoder=decoder)
