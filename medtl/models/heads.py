"""Prediction heads that sit on an encoder's pooled features or a decoder's full-resolution maps.

A head is small on purpose: transfer-learning strategies (linear probe, LP-FT, continual
learning with one head per task) re-create or re-initialise heads while the encoder is kept.
"""

from __future__ import annotations

import torch
from monai.networks.blocks import UnetOutBlock
from torch import nn


class ClassificationHead(nn.Module):
    """Dropout then a linear layer: pooled features ``(B, num_features)`` -> logits ``(B, K)``."""

    def __init__(self, num_features: int, num_outputs: int, dropout: float = 0.0):
        super().__init__()
        if num_features < 1 or num_outputs < 1:
            raise ValueError(f"num_features and num_outputs must be >= 1, got {num_features}, {num_outputs}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.num_features = num_features
        self.num_outputs = num_outputs
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(num_features, num_outputs)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(pooled))

    def reset(self, num_outputs: int | None = None) -> None:
        """Re-initialise the linear layer, optionally with a new number of outputs."""
        if num_outputs is not None and num_outputs != self.num_outputs:
            if num_outputs < 1:
                raise ValueError(f"num_outputs must be >= 1, got {num_outputs}")
            device, dtype = self.fc.weight.device, self.fc.weight.dtype
            self.fc = nn.Linear(self.num_features, num_outputs, device=device, dtype=dtype)
            self.num_outputs = num_outputs
        else:
            self.fc.reset_parameters()

    @torch.no_grad()
    def set_linear(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Copy a fitted linear classifier in (e.g. a logistic-regression probe for LP-FT)."""
        weight = torch.as_tensor(weight, dtype=self.fc.weight.dtype)
        bias = torch.as_tensor(bias, dtype=self.fc.bias.dtype)
        if tuple(weight.shape) != tuple(self.fc.weight.shape) or tuple(bias.shape) != tuple(self.fc.bias.shape):
            raise ValueError(
                f"linear shapes {tuple(weight.shape)}/{tuple(bias.shape)} do not match the head's "
                f"{tuple(self.fc.weight.shape)}/{tuple(self.fc.bias.shape)}"
            )
        self.fc.weight.copy_(weight)
        self.fc.bias.copy_(bias)


class SegmentationHead(nn.Module):
    """A 1x1(x1) convolution: decoder maps ``(B, C, *spatial)`` -> per-voxel logits ``(B, K, *spatial)``."""

    def __init__(self, in_channels: int, num_outputs: int, spatial_dims: int):
        super().__init__()
        self.in_channels = in_channels
        self.num_outputs = num_outputs
        self.spatial_dims = spatial_dims
        self.out = UnetOutBlock(spatial_dims, in_channels, num_outputs)

    def forward(self, decoded: torch.Tensor) -> torch.Tensor:
        return self.out(decoded)

    def reset(self, num_outputs: int | None = None) -> None:
        if num_outputs is not None and num_outputs != self.num_outputs:
            device = next(self.parameters()).device
            self.out = UnetOutBlock(self.spatial_dims, self.in_channels, num_outputs).to(device)
            self.num_outputs = num_outputs
        else:
            self.out.conv.conv.reset_parameters()
