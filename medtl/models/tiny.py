"""``tiny``: a registered test encoder (a few thousand parameters, 2D and 3D, 4 scales).

It follows the full :class:`~medtl.models.registry.Encoder` protocol so tests across the project
(training, scoring, model directories) run in milliseconds.
"""

from __future__ import annotations

from monai.networks.blocks import Convolution
from torch import nn

from medtl.models.registry import StagedEncoder, register_encoder

CHANNELS = (4, 8, 12, 16)


class TinyEncoder(StagedEncoder):
    def __init__(self, *, spatial_dims: int = 2, in_channels: int = 1, channels=CHANNELS):
        super().__init__(name="tiny", spatial_dims=spatial_dims, in_channels=in_channels)
        stages, prev = [], in_channels
        for ch in channels:
            stages.append(Convolution(spatial_dims, prev, ch, strides=2, kernel_size=3,
                                      act="RELU", norm="BATCH"))
            prev = ch
        self.stages = nn.ModuleList(stages)
        self.feature_channels = list(channels)
        self.feature_reductions = [2 ** (i + 1) for i in range(len(channels))]
        self.num_features = channels[-1]


@register_encoder("tiny", spatial_dims=(2, 3),
                  description="test encoder, ~3k parameters (2D), random init only")
def tiny(*, weights: str = "none", spatial_dims: int = 2, in_channels: int = 1, weights_dir=None) -> TinyEncoder:
    return TinyEncoder(spatial_dims=spatial_dims, in_channels=in_channels)
