"""Moving predictions between voxel grids with MONAI, driven by the affines.

The preprocessed tensor is a MONAI MetaTensor whose affine MONAI's spatial transforms
(Orientation, Spacing, Resize, pad/crop) keep up to date, so a prediction made on it is put back
on the input's exact grid by resampling from its affine to the input scan's affine
(:func:`to_grid`); the same call maps Grad-CAM maps onto the preview grid.
"""

from __future__ import annotations

import numpy as np
import torch

PREVIEW_INPLANE = 256
PREVIEW_SLICES = 64


def _meta(array, affine):
    from monai.data import MetaTensor

    data = array.as_tensor() if hasattr(array, "as_tensor") else torch.as_tensor(array)
    return MetaTensor(data, affine=torch.as_tensor(np.asarray(affine), dtype=torch.float64))


def to_grid(data: torch.Tensor, src_affine, dst_affine, dst_shape, *, mode: str = "bilinear") -> torch.Tensor:
    """Resample channel-first ``data`` from ``src_affine`` to ``(dst_affine, dst_shape)``."""
    from monai.transforms import SpatialResample

    img = _meta(data.detach().float().cpu(), src_affine)
    out = SpatialResample(mode=mode, padding_mode="border", dtype=torch.float32)(
        img, dst_affine=torch.as_tensor(np.asarray(dst_affine), dtype=torch.float64),
        spatial_size=tuple(int(s) for s in dst_shape))
    return out.as_tensor()


def probabilities_to_grid(probs: torch.Tensor, src_affine, scan_affine, scan_shape) -> torch.Tensor:
    """Class probabilities (K, *pre) on the preprocessed grid -> (K, *scan) on the scan grid."""
    return to_grid(probs, src_affine, scan_affine, scan_shape, mode="bilinear")


def probabilities_to_mask(probs: torch.Tensor, src_affine, scan_affine, scan_shape) -> np.ndarray:
    """Class probabilities (K, *pre) on the preprocessed grid -> uint8 label map on the scan grid.

    Probabilities (not labels) are resampled, then argmax: smoother borders than nearest labels.
    """
    return labels_of(probabilities_to_grid(probs, src_affine, scan_affine, scan_shape))


def labels_of(probs: torch.Tensor) -> np.ndarray:
    """uint8 argmax over the class axis of (K, *spatial) probabilities."""
    return probs.argmax(0).to(torch.uint8).numpy()


def preview_shape(spatial_shape: tuple[int, ...]) -> tuple[int, ...]:
    """At most 256 px in-plane (aspect kept) and 64 slices."""
    inplane = spatial_shape[:2]
    factor = max(1.0, max(inplane) / PREVIEW_INPLANE)
    shape = [max(1, int(round(s / factor))) for s in inplane]
    if len(spatial_shape) == 3:
        shape.append(min(spatial_shape[2], PREVIEW_SLICES))
    return tuple(shape)


def make_preview(array: np.ndarray, affine, photometric_rgb: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Downsample the original intensities (e.g. HU) for the review app.

    Returns (image, spacing, affine): image is spatial-only, channel-last for RGB; the affine is
    MONAI's updated affine of the downsampled grid.
    """
    from monai.transforms import Resize

    channels = array[:3] if photometric_rgb and array.shape[0] >= 3 else array[:1]
    target = preview_shape(tuple(array.shape[1:]))
    img = _meta(np.ascontiguousarray(channels, dtype=np.float32), affine)
    if tuple(img.shape[1:]) != target:
        img = Resize(target, mode="area")(img)
    out_affine = img.affine.numpy().astype(np.float64)
    data = img.as_tensor().numpy().astype(np.float32)
    image = np.moveaxis(data, 0, -1) if data.shape[0] == 3 else data[0]
    nd = len(target)
    spacing = np.linalg.norm(out_affine[:3, :nd], axis=0)
    return image, spacing, out_affine


def mask_to_preview(mask: np.ndarray, scan_affine, preview_affine, preview_shape_: tuple[int, ...],
                    extra: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The label map (uint8) on the preview grid, nearest neighbour; with ``extra`` (a map on the
    mask's grid, e.g. the voxel entropy) that map too, from the same resampling call."""
    stack = torch.as_tensor(mask[None].astype(np.float32))
    if extra is not None:
        stack = torch.cat([stack, extra[None].float()])
    out = to_grid(stack, scan_affine, preview_affine, preview_shape_, mode="nearest").numpy()
    return out[0].astype(np.uint8), (out[1].astype(np.float32) if extra is not None else None)


def cam_to_preview(cam: torch.Tensor, src_affine, preview_affine, preview_shape_: tuple[int, ...]) -> np.ndarray:
    out = to_grid(cam[None] if cam.ndim == len(preview_shape_) else cam, src_affine, preview_affine,
                  preview_shape_, mode="bilinear")[0].numpy()
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def cams_to_previews(cams: list[torch.Tensor], src_affines: list, preview_affines: list,
                     preview_shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    """:func:`cam_to_preview` for a batch. Maps that share the source grid and the preview grid
    (a folder of same-size images) are resampled in one call, stacked as the channels of one
    image: MONAI resamples channels independently, so each map gets the same numbers as alone
    (tested), at a fraction of the per-call overhead (measured 0.2 vs 2.6 ms per 64 px map)."""
    groups: dict[tuple, list[int]] = {}
    for i, (cam, src, dst, shape) in enumerate(zip(cams, src_affines, preview_affines, preview_shapes)):
        key = (tuple(cam.shape), np.asarray(src, np.float64).tobytes(), np.asarray(dst, np.float64).tobytes(),
               tuple(int(s) for s in shape))
        groups.setdefault(key if cam.ndim == len(shape) else ("alone", i), []).append(i)
    out: list[np.ndarray | None] = [None] * len(cams)
    for members in groups.values():
        i = members[0]
        if len(members) == 1:
            out[i] = cam_to_preview(cams[i], src_affines[i], preview_affines[i], preview_shapes[i])
            continue
        stacked = to_grid(torch.stack([cams[j] for j in members]), src_affines[i], preview_affines[i],
                          preview_shapes[i], mode="bilinear").numpy()
        for j, plane in zip(members, stacked):
            out[j] = np.clip(plane, 0.0, 1.0).astype(np.float32)
    return out
