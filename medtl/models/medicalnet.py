"""MedicalNet (Tencent, Med3D) 3D ResNet weights -> medtl ResNet encoders.

Published files ``resnet_<depth>.pth`` / ``resnet_<depth>_23dataset.pth``: a dict with
``"state_dict"`` whose keys carry the ``module.`` prefix of ``nn.DataParallel``; 1 input channel,
7x7x7 stride-2 first conv, no classifier. Keys are otherwise MONAI's names.

Shortcuts: MedicalNet ResNet-18/34 use the parameter-free type-A shortcut (stride-2 subsampling,
zero-padded new channels); medtl's ResNets always have type-B projections (one architecture per
name, needed to rebuild a model directory without the pretrained file). When a file has no
projection for a block, the projection is set to exactly type A: identity on the existing
channels, zeros on the new ones, BatchNorm the identity in eval mode (running_var = 1 - eps).
Every key the file does hold must still match exactly. MedicalNet trained its layer3/layer4 with
dilation instead of stride; MONAI (and medtl) use stride 2 there, so feature maps stay 2..32x
reduced like every other encoder.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from medtl.errors import ConfigError, WeightsError
from medtl.models.pretrained import WeightSpec, load_pretrained, rename

DEPTHS = {"resnet10": 10, "resnet18": 18, "resnet34": 34, "resnet50": 50}
_HF = "https://huggingface.co/TencentMedicalNet/MedicalNet-Resnet{d}/resolve/main/{f}"


def medicalnet_spec(name: str) -> WeightSpec:
    d = DEPTHS[name]
    files = (f"resnet_{d}_23dataset.pth", f"resnet_{d}.pth")
    return WeightSpec(
        source="medicalnet", file_names=files, url=_HF.format(d=d, f=files[0]),
        mean=(0.0,), std=(1.0,), in_chans=1, input_size=(1, 64, 64, 64), spatial_dims=3,
        licence="MIT (Tencent/MedicalNet)",
        notes="MedicalNet (Med3D) 3D segmentation pretraining; expects volumes z-scored over the "
              "foreground (mean 0, std 1)",
    )


def map_medicalnet(raw: dict, path: Path) -> dict:
    """``{"state_dict": {"module.<k>": v}}`` -> ``{"net.<k>": v}``; the segmentation head
    ``conv_seg.*`` (present in some releases) and any ``fc.*`` are dropped explicitly."""
    state = raw.get("state_dict", raw)
    if not isinstance(state, dict):
        raise WeightsError("MedicalNet file without a 'state_dict' mapping", path=path, code="weights_mismatch")

    def rule(key: str) -> str | None:
        key = key[len("module."):] if key.startswith("module.") else key
        if key.startswith(("conv_seg.", "fc.")):
            return None
        return "net." + key

    return rename(state, rule, path=path)


_BLOCK0 = re.compile(r"^(net\.layer\d\.0)\.")


def add_type_a_shortcuts(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor],
                         eps: float) -> dict[str, torch.Tensor]:
    """Projection weights equal to a type-A shortcut for every first block the file lacks."""
    state = dict(state)
    blocks = {m.group(1) for k in target if (m := _BLOCK0.match(k)) and ".downsample." in k}
    for block in sorted(blocks):
        prefix = f"{block}.downsample."
        if any(k.startswith(prefix) for k in state):
            continue  # the file has a projection (type B): load it as published
        conv = torch.zeros_like(target[prefix + "0.weight"])
        out_ch, in_ch = conv.shape[:2]
        idx = torch.arange(min(out_ch, in_ch))
        conv[(idx, idx) + (0,) * (conv.ndim - 2)] = 1.0
        state[prefix + "0.weight"] = conv
        state[prefix + "1.weight"] = torch.ones(out_ch)
        state[prefix + "1.bias"] = torch.zeros(out_ch)
        state[prefix + "1.running_mean"] = torch.zeros(out_ch)
        state[prefix + "1.running_var"] = torch.full((out_ch,), 1.0 - eps)
    return state


def load_medicalnet(encoder, *, weights_dir=None) -> None:
    """Load MedicalNet weights into a medtl :class:`~medtl.models.resnet.ResNetEncoder` (3D only)."""
    if encoder.spatial_dims != 3:
        raise ConfigError(f"MedicalNet weights are 3D; {encoder.name} was asked for spatial_dims="
                          f"{encoder.spatial_dims} (use weights='imagenet' for 2D)")
    target = encoder.state_dict()
    eps = float(encoder.net.bn1.eps)

    added: list[str] = []

    def mapper(raw: dict, path: Path) -> dict:
        mapped = map_medicalnet(raw, path)
        full = add_type_a_shortcuts(mapped, target, eps)
        added.extend(k for k in full if k not in mapped)
        return full

    load_pretrained(encoder, medicalnet_spec(encoder.name), mapper, first_conv="net.conv1.weight",
                    weights_dir=weights_dir)
    if added:
        encoder.pretrained_cfg.notes += (f"; type-A shortcuts set as identity projections "
                                         f"({len(added)} tensors not in the file)")
