"""2D raster images (PNG, JPEG, TIFF, GIF, BMP) as :class:`~medtl.data.scan.Scan`.

An image of H rows x W columns becomes ``(C, W, H)`` (spatial axis 0 along columns, as in
scan.py). Greyscale (any bit depth) gives C=1; RGB(A), palette colour, CMYK give C=3 (alpha is
dropped). Pixel values are kept as stored (0..255 for 8-bit, 0..65535 for 16-bit), as float32.
Spacing is 1.0 (these formats carry no physical size) and the affine is the identity.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medtl.data.scan import Scan
from medtl.errors import ScanReadError

RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp")
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def is_raster(path: str | Path) -> bool:
    return str(path).lower().endswith(RASTER_SUFFIXES)


def _open(path: Path):
    from PIL import Image

    if not path.is_file():
        raise ScanReadError("not_found", "file not found", path=path)
    try:
        return Image.open(path)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ScanReadError("unreadable_image", f"not a readable image ({exc})", path=path) from exc


def _channels(img) -> int:
    if img.mode in _GREY_MODES:
        return 1
    if img.mode == "P":
        return 1 if _grey_palette(img) else 3
    return 3


def _grey_palette(img) -> bool:
    pal = img.getpalette() or []
    rgb = np.asarray(pal[: 3 * 256], dtype=np.int32).reshape(-1, 3)
    return bool(np.all(rgb[:, 0] == rgb[:, 1]) and np.all(rgb[:, 1] == rgb[:, 2]))


def raster_header_info(path: str | Path) -> tuple[int, int]:
    """``(spatial_dims, channels)`` without decoding the pixels."""
    with _open(Path(path)) as img:
        return 2, _channels(img)


def read_raster(path: str | Path) -> Scan:
    """Read the first frame of a 2D image file."""
    from PIL import Image

    path = Path(path)
    with _open(path) as img:
        try:
            img.seek(0)
            channels = _channels(img)
            if img.mode == "1" or (img.mode == "P" and channels == 1):
                img = img.convert("L")
            elif channels == 1 and img.mode == "LA":
                img = img.getchannel(0)
            elif channels == 3 and img.mode != "RGB":
                img = img.convert("RGB")
            pixels = np.asarray(img, dtype=np.float32)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise ScanReadError("unreadable_image", f"image data could not be decoded ({exc})", path=path) from exc
    if pixels.ndim == 2:
        array = pixels.T[None]  # (H, W) -> (1, W, H)
    elif pixels.ndim == 3:
        array = pixels.transpose(2, 1, 0)[:3]  # (H, W, C) -> (C, W, H)
    else:
        raise ScanReadError("unreadable_image", f"unsupported image shape {pixels.shape}", path=path)
    meta = {"photometric_interpretation": "RGB" if array.shape[0] == 3 else "MONOCHROME2"}
    return Scan(
        array=np.ascontiguousarray(array),
        affine=np.eye(4),
        spacing=(1.0, 1.0),
        format="image",
        source=str(path),
        files=[str(path)],
        meta=meta,
    )
