"""DenseNet-121 (2D; 3D by inflation) on MONAI's ``DenseNet121``; torchvision ImageNet weights.

torchvision names a dense layer's modules directly (``denselayer1.norm1``), MONAI nests them
(``denselayer1.layers.norm1``); the published ``densenet121-a639ec97.pth`` even uses the pre-0.4
names ``norm.1`` / ``conv.2``. :func:`map_torchvision_densenet` handles both. The ImageNet
classifier ``classifier.*`` is dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from monai.networks.nets import DenseNet121
from torch.nn import functional as F

from medtl.models.pretrained import WeightSpec, load_pretrained, rename
from medtl.models.registry import Encoder, register_encoder

IMAGENET = WeightSpec(
    source="imagenet", file_names=("densenet121-a639ec97.pth",),
    url="https://download.pytorch.org/models/densenet121-a639ec97.pth",
    mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), in_chans=3, input_size=(3, 224, 224),
    licence="BSD-3-Clause (torchvision)", notes="torchvision ImageNet-1k",
)
_BLOCKS = ("denseblock1", "denseblock2", "denseblock3", "denseblock4")


class DenseNetEncoder(Encoder):
    def __init__(self, *, spatial_dims: int = 2, in_channels: int = 1):
        super().__init__(name="densenet121", spatial_dims=spatial_dims, in_channels=in_channels)
        net = DenseNet121(spatial_dims=spatial_dims, in_channels=in_channels, out_channels=1000)
        net.class_layers = None  # the ImageNet classifier is never kept
        self.net = net
        self.feature_channels = [64, 256, 512, 1024, 1024]
        self.feature_reductions = [2, 4, 8, 16, 32]
        self.num_features = 1024

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        f = self.net.features
        x = f.relu0(f.norm0(f.conv0(x)))
        features = [x]
        x = f.pool0(x)
        for i, block in enumerate(_BLOCKS, start=1):
            x = getattr(f, block)(x)
            if i < 4:
                features.append(x)
                x = getattr(f, f"transition{i}")(x)
        features.append(F.relu(f.norm5(x)))
        return features

    def _group_modules(self):
        f = self.net.features
        groups = [("stem", [f.conv0, f.norm0])]
        for i in range(1, 5):
            modules = [getattr(f, f"denseblock{i}")]
            modules.append(getattr(f, f"transition{i}") if i < 4 else f.norm5)
            groups.append((f"block{i}", modules))
        return groups


_OLD_STYLE = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12])\.(.+)$")
_LAYER = re.compile(r"^(features\.denseblock\d+\.denselayer\d+)\.((?:norm|conv)[12]\..+)$")


def map_torchvision_densenet(raw: dict, path: Path) -> dict:
    """torchvision DenseNet keys (new or pre-0.4 style) -> ``net.`` + MONAI names."""

    def rule(key: str) -> str | None:
        if key.startswith("classifier."):
            return None  # the ImageNet classifier
        key = _OLD_STYLE.sub(r"\1\2.\3", key)  # norm.1.weight -> norm1.weight
        key = _LAYER.sub(r"\1.layers.\2", key)  # denselayer1.norm1 -> denselayer1.layers.norm1
        return "net." + key

    return rename(raw, rule, path=path)


@register_encoder("densenet121", spatial_dims=(2, 3), weights={"imagenet": IMAGENET},
                  description="DenseNet-121 (MONAI), 7M params")
def densenet121(*, weights: str = "none", spatial_dims: int = 2, in_channels: int = 1,
                weights_dir=None) -> DenseNetEncoder:
    encoder = DenseNetEncoder(spatial_dims=spatial_dims, in_channels=in_channels)
    if weights == "imagenet":
        load_pretrained(encoder, IMAGENET, map_torchvision_densenet,
                        first_conv="net.features.conv0.weight", weights_dir=weights_dir)
    return encoder
