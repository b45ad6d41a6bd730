"""Adapt published weights to medtl inputs: channel count, axis layout, 2D -> 3D inflation.

All functions work on state dicts *before* loading, so the network itself is always a plain MONAI
network built natively for the requested ``spatial_dims``/``in_channels`` (Conv3d, BatchNorm3d...);
only the tensors change:

* **input channels** (like smp's ``patch_first_conv``): RGB -> 1 channel sums the kernel over
  its input channels; RGB -> N channels repeats the RGB kernels when N is a multiple of 3,
  otherwise shares their sum equally. Both are rescaled so a grey image replicated to every
  channel gives exactly the original network's activation on the grey RGB image.
* **axis layout**: 2D ImageNet kernels are trained on ``(rows, cols)`` tensors, medtl arrays are
  ``(cols, rows)`` (MONAI/ITK convention, see ``medtl/data/scan.py``). Transposing every 2D kernel
  makes ``encoder(medtl_array)`` equal the original network on the upright image.
* **inflation** (I3D): a 2D kernel is repeated along the new slice axis (the last one) and divided
  by its depth, so a volume constant along slices gives the 2D activation on every slice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch


def adapt_input_channels(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """First-conv weight ``(O, I, *k)`` adapted to ``in_channels`` input channels."""
    src = weight.shape[1]
    if in_channels == src:
        return weight
    if in_channels % src == 0:  # e.g. 3 -> 6: keep colour structure, rescale by src/N
        reps = in_channels // src
        return weight.repeat(1, reps, *([1] * (weight.ndim - 2))) * (src / in_channels)
    summed = weight.sum(dim=1, keepdim=True)  # 3 -> 1: the grey response; 3 -> N: shared equally
    return summed.repeat(1, in_channels, *([1] * (weight.ndim - 2))) / in_channels


def transpose_kernel(weight: torch.Tensor) -> torch.Tensor:
    """2D kernel ``(O, I, rows, cols)`` -> ``(O, I, cols, rows)`` (medtl axis order)."""
    return weight.transpose(-1, -2).contiguous()


def inflate_kernel(weight: torch.Tensor, depth: int) -> torch.Tensor:
    """2D kernel ``(O, I, a, b)`` -> 3D ``(O, I, a, b, depth)``, divided by ``depth`` (I3D)."""
    return (weight.unsqueeze(-1).repeat(*([1] * weight.ndim), depth) / depth).contiguous()


def adapt_state_dict(
    state: Mapping[str, torch.Tensor],
    target: Mapping[str, torch.Tensor],
    *,
    first_conv: str | Iterable[str],
    transpose_2d: bool = True,
) -> dict[str, torch.Tensor]:
    """Adapt a published state dict to ``target`` (the medtl module's ``state_dict()``).

    Keys are not renamed here (that is each source's mapping); keys absent from ``target`` pass
    through unchanged so the exact loader reports them.
    """
    first = {first_conv} if isinstance(first_conv, str) else set(first_conv)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        want = target.get(key)
        if want is not None and value.ndim == 4 and want.ndim in (4, 5):  # a 2D conv kernel
            if transpose_2d:
                value = transpose_kernel(value)
            if want.ndim == 5:
                value = inflate_kernel(value, int(want.shape[-1]))
        if want is not None and key in first and value.ndim >= 3 and value.shape[1] != want.shape[1]:
            value = adapt_input_channels(value, int(want.shape[1]))
        out[key] = value
    return out


def adapt_normalisation(
    mean: tuple[float, ...], std: tuple[float, ...], in_channels: int
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean/std for ``in_channels`` inputs; other counts than the weights' use the
    mean of the published mean/std (e.g. grey input to RGB weights)."""
    if len(mean) == in_channels:
        return tuple(float(m) for m in mean), tuple(float(s) for s in std)
    m, s = sum(mean) / len(mean), sum(std) / len(std)
    return (float(m),) * in_channels, (float(s),) * in_channels
