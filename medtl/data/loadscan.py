"""MONAI pieces that need MONAI at import time: ``LoadScand``, ``MatchChannelsd``, ``MedtlCompose``."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from pathlib import Path

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, MapTransform

from medtl.data.masks import read_mask
from medtl.data.scan import Scan
from medtl.data.transforms import typed_errors
from medtl.errors import DataError


def _default_reader(path):
    from medtl.data.read import read_scan

    return read_scan(path)


class LoadScand(MapTransform):
    """Path (file or DICOM series folder; a list of mask paths is their union) -> ``MetaTensor`` (C, *spatial) float32 with its affine.

    ``np.ndarray``/tensor values (MedMNIST records) pass through as MetaTensors with an identity
    affine; a :class:`Scan` is converted directly. With ``spatial_dims=2`` a 3D scan with a single
    slice is squeezed to 2D; any other dimension mismatch is a DataError naming the file.
    """

    def __init__(
        self,
        keys: Sequence[Hashable],
        *,
        spatial_dims: int | None = None,
        reader: Callable | None = None,
        allow_missing_keys: bool = False,
    ):
        super().__init__(keys, allow_missing_keys)
        self.spatial_dims = spatial_dims
        self.reader = reader or _default_reader

    def _load(self, value) -> MetaTensor:
        if isinstance(value, str | Path):
            value = self.reader(value)
        elif isinstance(value, list | tuple) and value and all(isinstance(v, str | Path) for v in value):
            value = read_mask(value, self.reader)  # several binary masks of one image: their union
        if isinstance(value, Scan):
            return MetaTensor(
                torch.from_numpy(np.ascontiguousarray(value.array, dtype=np.float32)),
                affine=torch.as_tensor(value.affine, dtype=torch.float64),
                meta={"filename_or_obj": value.source},
            )
        if isinstance(value, MetaTensor):
            return value
        array = torch.as_tensor(np.ascontiguousarray(np.asarray(value), dtype=np.float32))
        return MetaTensor(array, affine=torch.eye(4, dtype=torch.float64), meta={"filename_or_obj": "array"})

    def _fit_dims(self, t: MetaTensor, source) -> MetaTensor:
        dims = t.ndim - 1
        if self.spatial_dims is None or dims == self.spatial_dims:
            return t
        if dims == 3 and self.spatial_dims == 2 and t.shape[-1] == 1:
            meta = {k: v for k, v in t.meta.items() if k != "affine"}
            return MetaTensor(t.as_tensor()[..., 0].clone(), affine=t.affine.clone(), meta=meta)
        raise DataError(
            f"scan has {dims} spatial dimensions (shape {tuple(t.shape)}) but the model expects "
            f"{self.spatial_dims}",
            path=str(source) if isinstance(source, str | Path) else None,
        )

    def __call__(self, data):
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self._fit_dims(self._load(d[key]), d[key])
        return d


class MatchChannelsd(MapTransform):
    """Bring images to ``channels``: RGB -> 1 by luminance (ITU-R BT.601 weights).

    A greyscale image in a 3-channel dataset (mixed PNG folders) is repeated to 3 channels; the
    encoder-side 1 -> 3 adaptation is the model's job (first-conv adaptation), not done here.
    """

    LUMA = (0.299, 0.587, 0.114)

    def __init__(self, keys: Sequence[Hashable], *, channels: int, allow_missing_keys: bool = False):
        super().__init__(keys, allow_missing_keys)
        self.channels = int(channels)

    def __call__(self, data):
        d = dict(data)
        for key in self.key_iterator(d):
            img = d[key]
            c = img.shape[0]
            if c == self.channels:
                continue
            if c == 3 and self.channels == 1:
                w = torch.tensor(self.LUMA, dtype=img.dtype).reshape(3, *([1] * (img.ndim - 1)))
                d[key] = (img * w).sum(dim=0, keepdim=True)
            elif c == 1:
                d[key] = img.repeat(self.channels, *([1] * (img.ndim - 1)))
            else:
                src = img.meta.get("filename_or_obj") if isinstance(img, MetaTensor) else None
                raise DataError(f"image has {c} channels; the model expects {self.channels}", path=src)
        return d


class BinaryMaskd(MapTransform):
    """Masks saved as 8-bit images with values {0, 255} (e.g. DRIVE's GIFs) become {0, 1}."""

    def __call__(self, data):
        d = dict(data)
        for key in self.key_iterator(d):
            if is_0_255_mask(d[key]):
                d[key] = d[key] / 255.0
        return d


def is_0_255_mask(mask) -> bool:
    values = torch.unique(torch.as_tensor(mask))
    return bool(values.numel() <= 2 and values.max() == 255 and torch.all((values == 0) | (values == 255)))


class MedtlCompose(Compose):
    """``Compose`` that raises the readers' typed errors instead of MONAI's RuntimeError wrapper."""

    def __call__(self, *args, **kwargs):
        with typed_errors():
            return super().__call__(*args, **kwargs)
