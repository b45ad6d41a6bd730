"""U-Net-style decoder over an encoder's multi-scale features (2D and 3D).

Starting from the deepest feature map, each stage upsamples (nearest neighbour, MONAI
``UpSample``), concatenates the encoder feature at that scale (the skip connection) and refines
with a MONAI ``UnetResBlock`` (two 3x3 convolutions, instance norm, residual). A last stage
without a skip brings the maps from the shallowest encoder scale back to input resolution.

Size handling: encoders downsample by up to ``max(feature_reductions)`` (32 for the ImageNet
families). :func:`pad_to_multiple` pads an input up to that multiple and :func:`crop_to` cuts the
output back, so any input size works (``MedtlModel`` does this around every forward pass). As a
second safety net each stage also aligns the upsampled map to its skip's size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks import UnetResBlock, UpSample
from torch import nn

from medtl.models.heads import SegmentationHead

DEFAULT_DECODER_CHANNELS = (256, 128, 64, 32, 16)
_NORM = ("instance", {"affine": True})


class UNetDecoder(nn.Module):
    """Decoder from ``features`` (shallow -> deep, as ``Encoder.forward_features`` returns them).

    ``decoder_channels`` lists the output channels per stage, deepest first; when it is longer
    than the number of stages the last (shallowest, smallest) entries are used. With
    ``num_classes=None`` the decoder returns its full-resolution maps (``out_channels`` wide) so a
    model can put one or several heads on top; otherwise it ends with a 1x1 convolution to logits.
    """

    def __init__(
        self,
        feature_channels: Sequence[int],
        feature_reductions: Sequence[int],
        spatial_dims: int,
        num_classes: int | None,
        decoder_channels: Sequence[int] = DEFAULT_DECODER_CHANNELS,
    ):
        super().__init__()
        if len(feature_channels) != len(feature_reductions) or not feature_channels:
            raise ValueError("feature_channels and feature_reductions must be non-empty and of equal length")
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        reductions = [int(r) for r in feature_reductions]
        targets = reductions[-2::-1] + ([1] if reductions[0] > 1 else [])
        if len(decoder_channels) < len(targets):
            raise ValueError(
                f"decoder_channels needs at least {len(targets)} entries for this encoder, got {tuple(decoder_channels)}"
            )
        stage_channels = [int(c) for c in decoder_channels[len(decoder_channels) - len(targets) :]]
        self.spatial_dims = spatial_dims
        self.divisor = max(reductions)
        self.feature_reductions = reductions

        self.upsamples = nn.ModuleList()
        self.blocks = nn.ModuleList()
        prev_ch, prev_r = int(feature_channels[-1]), reductions[-1]
        for i, (target, out_ch) in enumerate(zip(targets, stage_channels)):
            if prev_r % target:
                raise ValueError(f"feature reductions must divide each other, got {reductions}")
            factor = prev_r // target
            skip_ch = int(feature_channels[-2 - i]) if i < len(reductions) - 1 else 0
            self.upsamples.append(
                UpSample(spatial_dims, scale_factor=factor, mode="nontrainable", interp_mode="nearest", align_corners=None)
                if factor > 1
                else nn.Identity()
            )
            self.blocks.append(
                UnetResBlock(spatial_dims, prev_ch + skip_ch, out_ch, kernel_size=3, stride=1, norm_name=_NORM)
            )
            prev_ch, prev_r = out_ch, target
        self.out_channels = prev_ch
        self.segmentation_head = (
            SegmentationHead(prev_ch, num_classes, spatial_dims) if num_classes is not None else None
        )

    def decode(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Full-resolution decoder maps ``(B, out_channels, *spatial)``."""
        if len(features) != len(self.feature_reductions):
            raise ValueError(f"expected {len(self.feature_reductions)} feature maps, got {len(features)}")
        x = features[-1]
        skips = list(features[-2::-1])
        for i, (up, block) in enumerate(zip(self.upsamples, self.blocks)):
            x = up(x)
            if i < len(skips):
                x = crop_or_pad_to(x, skips[i].shape[2:])
                x = torch.cat([x, skips[i]], dim=1)
            x = block(x)
        return x

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        x = self.decode(features)
        return self.segmentation_head(x) if self.segmentation_head is not None else x


def pad_to_multiple(x: torch.Tensor, divisor: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Pad the spatial axes of ``x`` (B, C, *spatial) at their ends up to multiples of ``divisor``.

    Replicate padding (edge values), so no artificial black border reaches the network.
    Returns the padded tensor and the original spatial size (for :func:`crop_to`).
    """
    size = tuple(int(s) for s in x.shape[2:])
    extra = [(-s) % divisor for s in size]
    if not any(extra):
        return x, size
    pad: list[int] = []
    for e in reversed(extra):  # F.pad lists the last axis first
        pad += [0, e]
    return F.pad(x, pad, mode="replicate"), size


def crop_to(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Crop the spatial axes of ``x`` to ``size`` (from the start, undoing :func:`pad_to_multiple`)."""
    return x[(slice(None), slice(None), *(slice(0, int(s)) for s in size))]


def crop_or_pad_to(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Make the spatial size of ``x`` exactly ``size``: crop where larger, zero-pad where smaller."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    x = crop_to(x, [min(a, b) for a, b in zip(x.shape[2:], size)])
    pad: list[int] = []
    for have, want in reversed(list(zip(x.shape[2:], size))):
        pad += [0, int(want) - int(have)]
    return F.pad(x, pad)
