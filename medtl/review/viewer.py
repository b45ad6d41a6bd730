"""Pure numpy rendering for the review app: planes, square pixels, window/level, overlays.

Everything returns ``uint8`` RGB arrays ``(rows, cols, 3)`` ready for ``st.image``; nothing here
imports Streamlit, so it is unit-tested directly.

Arrays follow the Scan axis convention (``medtl/data/scan.py``): spatial axis 0 runs along image
columns, axis 1 along rows, axis 2 along slices. A display image is ``(rows, cols)``, so every
plane is transposed before display.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

PLANES = ("axial", "coronal", "sagittal")
# plane -> (axis held fixed, axis shown down the rows, axis shown across the columns)
_PLANE_AXES = {"axial": (2, 1, 0), "coronal": (1, 2, 0), "sagittal": (0, 2, 1)}


@dataclass(frozen=True)
class Plane:
    """One 2D display slice of a volume: arrays are ``(rows, cols)`` with their pixel size in mm."""

    image: np.ndarray  # float32 (rows, cols) or (rows, cols, 3) for RGB
    mask: np.ndarray | None
    cam: np.ndarray | None
    row_spacing: float
    col_spacing: float


def n_slices(shape: tuple[int, ...], plane: str) -> int:
    """Number of slices a plane has in a volume of spatial ``shape`` (1 for a 2D image)."""
    return 1 if len(shape) < 3 else int(shape[_PLANE_AXES[plane][0]])


def extract_plane(
    image: np.ndarray,
    spacing: tuple[float, ...],
    *,
    plane: str = "axial",
    index: int | None = None,
    mask: np.ndarray | None = None,
    cam: np.ndarray | None = None,
    affine: np.ndarray | None = None,
    rgb: bool = False,
) -> Plane:
    """Cut one plane out of a 2D image or 3D volume and transpose it to display order.

    2D images (``(cols, rows)``, or ``(cols, rows, 3)`` when ``rgb``) ignore ``plane`` and
    ``index``. For coronal and sagittal planes the slice axis runs bottom-to-top when it points
    superior in the ``affine`` (RAS), so heads are up whatever the slice order on disk.
    """
    spatial = image.ndim - (1 if rgb else 0)
    if spatial == 2:
        def disp2(a):
            return None if a is None else np.swapaxes(a, 0, 1)

        return Plane(disp2(image).astype(np.float32), disp2(mask), disp2(cam), float(spacing[1]), float(spacing[0]))
    if plane not in _PLANE_AXES:
        raise ValueError(f"plane must be one of {PLANES}, got {plane!r}")
    fixed, row_ax, col_ax = _PLANE_AXES[plane]
    n = image.shape[fixed]
    index = n // 2 if index is None else int(np.clip(index, 0, n - 1))
    flip_rows = row_ax == 2 and affine is not None and np.asarray(affine)[2, 2] > 0

    def cut(a):
        if a is None:
            return None
        out = np.moveaxis(np.take(a, index, axis=fixed), [row_ax - (row_ax > fixed), col_ax - (col_ax > fixed)], [0, 1])
        return out[::-1] if flip_rows else out

    return Plane(cut(image).astype(np.float32), cut(mask), cut(cam), float(spacing[row_ax]), float(spacing[col_ax]))


def square_pixel_shape(
    rows: int, cols: int, row_spacing: float, col_spacing: float, max_side: int = 512, min_side: int = 0
) -> tuple[int, int]:
    """Display size with square pixels: the physical extent ``n * spacing`` kept in proportion,
    the longest side shrunk to ``max_side`` or enlarged to ``min_side`` (small previews)."""
    height, width = rows * abs(row_spacing), cols * abs(col_spacing)
    scale = min(abs(row_spacing), abs(col_spacing))
    out_r, out_c = height / scale, width / scale
    longest = max(out_r, out_c)
    factor = max_side / longest if longest > max_side else max(1.0, min_side / longest)
    return max(1, round(out_r * factor)), max(1, round(out_c * factor))


def _resize(a: np.ndarray, shape: tuple[int, int], nearest: bool) -> np.ndarray:
    if a.shape[:2] == shape:
        return a
    method = Image.NEAREST if nearest else Image.BILINEAR
    if a.ndim == 3:  # RGB: resize each channel as a float image
        return np.stack([_resize(a[..., c], shape, nearest) for c in range(a.shape[2])], axis=-1)
    mode_src = a.astype(np.int32 if nearest else np.float32)
    img = Image.fromarray(mode_src, mode="I" if nearest else "F")
    return np.asarray(img.resize((shape[1], shape[0]), method)).astype(a.dtype if nearest else np.float32)


def to_square_pixels(p: Plane, max_side: int = 512, min_side: int = 0) -> Plane:
    """Resample a plane so one display pixel is square in millimetres (anisotropic series do not
    look squashed). Image and heatmap are resampled bilinearly, the mask with nearest neighbour."""
    shape = square_pixel_shape(p.image.shape[0], p.image.shape[1], p.row_spacing, p.col_spacing, max_side, min_side)
    size = min(abs(p.row_spacing) * p.image.shape[0] / shape[0], abs(p.col_spacing) * p.image.shape[1] / shape[1])
    return Plane(
        _resize(p.image, shape, False),
        None if p.mask is None else _resize(p.mask, shape, True),
        None if p.cam is None else _resize(p.cam, shape, False),
        size,
        size,
    )


def window_bounds(width: float, level: float) -> tuple[float, float]:
    return level - width / 2.0, level + width / 2.0


def percentile_bounds(values: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """Intensity range from percentiles of the whole image/volume (MR, ultrasound)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [low, high])
    return float(lo), float(hi if hi > lo else lo + 1.0)


def apply_window(img: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``[lo, hi]`` linearly to 0..255 (clipped) and return uint8 RGB ``(rows, cols, 3)``."""
    scaled = (np.nan_to_num(img.astype(np.float32), nan=lo) - lo) / max(hi - lo, 1e-6)
    out = np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)
    return out if out.ndim == 3 else np.repeat(out[..., None], 3, axis=2)


def overlay_mask(
    rgb: np.ndarray,
    mask: np.ndarray,
    *,
    opacity: float = 0.4,
    mode: str = "fill",
    colors: tuple[tuple[int, int, int], ...] = ((255, 80, 80),),
) -> np.ndarray:
    """Blend a label mask over ``rgb``: ``fill`` tints every labelled pixel, ``outline`` draws the
    label boundaries (scikit-image ``find_boundaries``, inner mode) at the same opacity."""
    if mode not in ("fill", "outline"):
        raise ValueError(f"mode must be 'fill' or 'outline', got {mode!r}")
    out = rgb.astype(np.float32)
    labels = mask.astype(np.int64)
    if mode == "outline":
        from skimage.segmentation import find_boundaries

        labels = np.where(find_boundaries(labels, mode="inner"), labels, 0)
    for value in np.unique(labels[labels > 0]):
        colour = np.asarray(colors[(int(value) - 1) % len(colors)], dtype=np.float32)
        sel = labels == value
        out[sel] = (1.0 - opacity) * out[sel] + opacity * colour
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def blend_cam(rgb: np.ndarray, cam: np.ndarray, *, opacity: float = 0.45, cmap: str = "jet") -> np.ndarray:
    """Blend a 0..1 Grad-CAM map over ``rgb`` with a matplotlib colormap, weighted by the map itself
    so low-attention areas stay readable."""
    from matplotlib import colormaps

    heat = np.clip(np.nan_to_num(cam.astype(np.float32)), 0.0, 1.0)
    colour = colormaps[cmap](heat)[..., :3] * 255.0
    alpha = (opacity * heat)[..., None]
    out = (1.0 - alpha) * rgb.astype(np.float32) + alpha * colour
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def render(
    plane: Plane,
    bounds: tuple[float, float],
    *,
    show_mask: bool = False,
    mask_opacity: float = 0.4,
    mask_mode: str = "fill",
    show_cam: bool = False,
    cam_opacity: float = 0.45,
    colors: tuple[tuple[int, int, int], ...] = ((255, 80, 80),),
    max_side: int = 512,
    min_side: int = 0,
) -> np.ndarray:
    """Square pixels, window, optional heatmap and mask: the RGB uint8 image the app displays."""
    sq = to_square_pixels(plane, max_side=max_side, min_side=min_side)
    rgb = apply_window(sq.image, *bounds)
    if show_cam and sq.cam is not None:
        rgb = blend_cam(rgb, sq.cam, opacity=cam_opacity)
    if show_mask and sq.mask is not None:
        rgb = overlay_mask(rgb, sq.mask, opacity=mask_opacity, mode=mask_mode, colors=colors)
    return rgb
