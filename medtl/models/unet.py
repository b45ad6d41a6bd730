"""``unet-res16`` / ``unet-res32``: the encoder half of a residual U-Net (2D and 3D).

A fast family for 3D work on CPU, and the encoder medtl pretrains itself (MedicalNet's idea: train
a 3D encoder on a 3D segmentation task, then reuse it through ``model.weights: <run dir>``). The
ImageNet families are slow in 3D here: EfficientNet's depthwise 3D convolutions ran at 10-27 min
per hippocampus epoch on this 2-core CPU, where this encoder (16-256 channels) takes seconds.

Layout (MONAI ``UNet``'s down path): four stride-2 stages doubling the channels, then a stride-1
bottleneck at 1/16 resolution. Each stage is a MONAI ``ResidualUnit`` (3x3 convolution, instance
norm, PReLU, residual projection); instance norm keeps training and inference identical on the
small batches 3D volumes allow. Features come out at reductions 2, 4, 8, 16, 16. Nothing runs at
full resolution in the encoder: a full-resolution first stage made a hippocampus epoch 5x slower
(measured: 6.6 s vs 1.4 s per 8x48x64x48 training step), so set the decoder's last (full-
resolution) width small, e.g. ``decoder_channels: [128, 64, 32, 16, 4]``.
"""

from __future__ import annotations

from monai.networks.blocks import ResidualUnit
from torch import nn

from medtl.models.registry import StagedEncoder, register_encoder

_NORM = ("instance", {"affine": True})
STRIDES = (2, 2, 2, 2, 1)
WIDTHS = {"unet-res16": (16, 32, 64, 128, 256), "unet-res32": (32, 64, 128, 256, 320)}


class UNetResEncoder(StagedEncoder):
    def __init__(self, name: str, *, spatial_dims: int = 3, in_channels: int = 1):
        super().__init__(name=name, spatial_dims=spatial_dims, in_channels=in_channels)
        channels = WIDTHS[name]
        stages, prev = [], in_channels
        for i, ch in enumerate(channels):
            stages.append(ResidualUnit(spatial_dims, prev, ch, strides=STRIDES[i], kernel_size=3, subunits=1,
                                       norm=_NORM, act="PRELU"))
            prev = ch
        self.stages = nn.ModuleList(stages)
        self.feature_channels = list(channels)
        self.feature_reductions = [2 ** min(i + 1, 4) for i in range(len(channels))]
        self.num_features = channels[-1]

    @property
    def min_input_size(self) -> int:
        return 32  # instance norm needs more than one voxel at the 1/16 bottleneck (while training)


def _register(name: str) -> None:
    widths = "-".join(str(c) for c in WIDTHS[name])

    @register_encoder(name, spatial_dims=(2, 3),
                      description=f"residual U-Net encoder ({widths} channels), instance norm; random init "
                                  "or a medtl model directory (3D pretraining)")
    def factory(*, weights: str = "none", spatial_dims: int = 3, in_channels: int = 1,
                weights_dir=None) -> UNetResEncoder:
        return UNetResEncoder(name, spatial_dims=spatial_dims, in_channels=in_channels)


for _name in WIDTHS:
    _register(_name)
