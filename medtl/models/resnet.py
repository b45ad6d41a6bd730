"""ResNet-10/18/34/50 (2D and 3D) on MONAI's ``ResNet``; ImageNet (torchvision) weights.

One architecture per name, whatever the weight source, so a model directory rebuilds without the
pretrained file: torchvision's stem (7x7 conv stride 2 + max-pool) and projection shortcuts
(type B, 1x1 conv without bias + BN). MONAI's own default stem stride is 1, which keeps full
resolution after the first conv (slow, unlike torchvision and MedicalNet), hence
``conv1_t_stride=2``. MedicalNet files (``medicalnet.py``) load into the same networks.

torchvision key names equal MONAI's (``conv1``, ``bn1``, ``layer1.0.conv1``, ``downsample.0``...);
the mapping only drops the ImageNet classifier ``fc.*`` (kept with ``keep_classifier=True``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from monai.networks.nets import ResNet

from medtl.errors import ConfigError
from medtl.models.pretrained import WeightSpec, load_pretrained, rename
from medtl.models.registry import Encoder, register_encoder

ARCHS = {  # name: (block, layers)
    "resnet10": ("basic", (1, 1, 1, 1)),
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
}
_TV = "https://download.pytorch.org/models/"
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _imagenet(file_names: tuple[str, ...]) -> WeightSpec:
    return WeightSpec(source="imagenet", file_names=file_names, url=_TV + file_names[0],
                      mean=_IMAGENET_MEAN, std=_IMAGENET_STD, in_chans=3, input_size=(3, 224, 224),
                      licence="BSD-3-Clause (torchvision)", notes="torchvision ImageNet-1k")


IMAGENET = {
    "resnet18": _imagenet(("resnet18-f37072fd.pth",)),
    "resnet34": _imagenet(("resnet34-b627a593.pth",)),
    "resnet50": _imagenet(("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth")),
}


class ResNetEncoder(Encoder):
    def __init__(self, name: str, *, spatial_dims: int = 2, in_channels: int = 1,
                 keep_classifier: bool = False):
        super().__init__(name=name, spatial_dims=spatial_dims, in_channels=in_channels)
        block, layers = ARCHS[name]
        self.net = ResNet(block, list(layers), [64, 128, 256, 512], spatial_dims=spatial_dims,
                          n_input_channels=in_channels, conv1_t_size=7, conv1_t_stride=2,
                          shortcut_type="B", bias_downsample=False, num_classes=1000,
                          feed_forward=keep_classifier)
        self.has_classifier = keep_classifier
        expansion = 4 if block == "bottleneck" else 1
        self.feature_channels = [64] + [c * expansion for c in (64, 128, 256, 512)]
        self.feature_reductions = [2, 4, 8, 16, 32]
        self.num_features = self.feature_channels[-1]

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        net = self.net
        x = net.act(net.bn1(net.conv1(x)))
        features = [x]
        x = net.maxpool(x)
        for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
            x = layer(x)
            features.append(x)
        return features

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        if not self.has_classifier:
            raise RuntimeError("built without the ImageNet classifier (keep_classifier=False)")
        return self.net.fc(self.forward_pooled(x))

    def _group_modules(self):
        net = self.net
        groups = [("stem", [net.conv1, net.bn1])]
        groups += [(f"layer{i}", [getattr(net, f"layer{i}")]) for i in range(1, 5)]
        if self.has_classifier:
            groups.append(("classifier", [net.fc]))
        return groups


def map_torchvision_resnet(raw: dict, path: Path, *, keep_classifier: bool = False) -> dict:
    """torchvision ResNet keys -> ``net.<same name>``; ``fc.*`` (ImageNet head) dropped."""
    return rename(raw, lambda k: None if k.startswith("fc.") and not keep_classifier else "net." + k,
                  path=path)


def build_resnet(name: str, *, weights: str, spatial_dims: int, in_channels: int, weights_dir=None,
                 keep_classifier: bool = False) -> ResNetEncoder:
    if keep_classifier and (weights != "imagenet" or spatial_dims != 2):
        raise ConfigError("keep_classifier needs weights='imagenet' and spatial_dims=2")
    encoder = ResNetEncoder(name, spatial_dims=spatial_dims, in_channels=in_channels,
                            keep_classifier=keep_classifier)
    if weights == "imagenet":
        load_pretrained(encoder, IMAGENET[name],
                        lambda raw, p: map_torchvision_resnet(raw, p, keep_classifier=keep_classifier),
                        first_conv="net.conv1.weight", weights_dir=weights_dir)
    elif weights == "medicalnet":
        from medtl.models.medicalnet import load_medicalnet

        load_medicalnet(encoder, weights_dir=weights_dir)
    return encoder


def _register(name: str, description: str) -> None:
    from medtl.models.medicalnet import medicalnet_spec

    specs = {"imagenet": IMAGENET[name]} if name in IMAGENET else {}
    specs["medicalnet"] = medicalnet_spec(name)

    @register_encoder(name, spatial_dims=(2, 3), weights=specs, description=description)
    def factory(*, weights: str = "none", spatial_dims: int = 2, in_channels: int = 1, weights_dir=None,
                keep_classifier: bool = False) -> ResNetEncoder:
        return build_resnet(name, weights=weights, spatial_dims=spatial_dims, in_channels=in_channels,
                            weights_dir=weights_dir, keep_classifier=keep_classifier)


_register("resnet10", "ResNet-10 (MONAI), 3D MedicalNet weights, 4.9M params (2D)")
_register("resnet18", "ResNet-18 (MONAI), torchvision stem, 11M params (2D)")
_register("resnet34", "ResNet-34 (MONAI), torchvision stem, 21M params (2D)")
_register("resnet50", "ResNet-50 (MONAI), torchvision stem, 23M params (2D)")
