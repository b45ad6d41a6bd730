"""Inference helpers: logits for a batch, with MONAI sliding windows for large volumes.

Segmentation models are trained on patches (``preprocess.image_size``); a scan larger than the
patch is covered by overlapping windows (MONAI ``sliding_window_inference``, Gaussian blending),
so the logits come back at the scan's full size. Classification is a plain forward pass.
Runs under ``torch.inference_mode`` and, on CUDA, float16 autocast; logits are returned as float32
on the model's device.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
from monai.inferers import sliding_window_inference
from torch import nn


def predict_logits(
    model: nn.Module,
    x: torch.Tensor,
    *,
    roi_size: Sequence[int] | int | None = None,
    sw_batch_size: int = 4,
    overlap: float = 0.25,
) -> torch.Tensor:
    """Logits for ``x`` ``(B, C, *spatial)``: ``(B, K)`` or ``(B, K, *spatial)``.

    ``model`` is a ``MedtlModel`` (or a ``LoadedModel``, whose ``.model`` is used); it is not
    switched to eval mode here (``load_model_dir`` returns it in eval mode). ``roi_size`` is the
    window for segmentation (usually the training ``image_size``); windows are used only when the
    input is larger than it along some axis. The result is an inference tensor: use it in
    ordinary (out-of-place) operations; clone it before any in-place change.
    """
    model = getattr(model, "model", model)
    spatial_dims = _spatial_dims(model)
    if x.ndim != spatial_dims + 2:
        raise ValueError(f"expected a batch (B, C) + {spatial_dims} spatial axes, got shape {tuple(x.shape)}")
    if hasattr(x, "as_tensor"):  # MONAI MetaTensor: plain tensors are faster and carry no metadata
        x = x.as_tensor()
    param = next(model.parameters())
    x = x.to(device=param.device, dtype=torch.float32)
    windows = _window(roi_size, spatial_dims) if getattr(model, "task", None) == "segmentation" else None
    use_windows = windows is not None and any(s > r for s, r in zip(x.shape[2:], windows))
    amp = (torch.autocast(device_type="cuda", dtype=torch.float16) if param.device.type == "cuda"
           else contextlib.nullcontext())
    with torch.inference_mode(), amp:
        if use_windows:
            out = sliding_window_inference(x, windows, sw_batch_size, model, overlap=overlap, mode="gaussian")
        else:
            out = model(x)
    if hasattr(out, "as_tensor"):
        out = out.as_tensor()
    return out.float()


def _window(roi_size: Sequence[int] | int | None, spatial_dims: int) -> tuple[int, ...] | None:
    if roi_size is None:
        return None
    if isinstance(roi_size, int):
        return (roi_size,) * spatial_dims
    roi = tuple(int(r) for r in roi_size)
    if len(roi) != spatial_dims or min(roi) < 1:
        raise ValueError(f"roi_size {roi} does not fit {spatial_dims} spatial axes")
    return roi


def _spatial_dims(model: nn.Module) -> int:
    encoder = getattr(model, "encoder", None)
    if encoder is None or not hasattr(encoder, "spatial_dims"):
        raise TypeError(f"predict_logits needs a MedtlModel, got {type(model).__name__}")
    return int(encoder.spatial_dims)
