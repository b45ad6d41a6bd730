"""From a :class:`~medtl.data.DataSource` to preprocessing, datasets and loaders for training.

The preprocessing is derived from the data (modality -> intensity preset, spatial dims, channels)
and the encoder's pretrained config (mean/std), then overridden by ``cfg.preprocess``; it is stored
in the model directory so scoring and ``medtl evaluate`` apply exactly the same steps.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from medtl.data.loader import make_loader, reseed_transforms  # noqa: F401 (re-exported)
from medtl.errors import ConfigError, DataError
from medtl.train.config import TrainConfig

DEFAULT_SIZE = {2: 128, 3: 64}
_UINT8_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


def _intensity_for(source) -> str:
    modality = (source.modality or "").upper()
    if modality == "CT":
        return "ct_window"
    if modality in ("MR", "MRI"):
        return "mr_percentile"
    first = next((r for split in ("train", "val", "test") for r in source.records.get(split, [])), None)
    image = first.get("image") if first else None
    if isinstance(image, np.ndarray) and image.dtype == np.uint8:
        return "uint8"
    if isinstance(image, (str, Path)) and str(image).lower().endswith(_UINT8_SUFFIXES):
        return "uint8"
    return "minmax"


def check_input_size(image_size, encoder, task: str) -> None:
    """A clear error instead of a convolution failing deep inside the encoder on a too-small input
    (segmentation models zero-pad their input to a multiple of the encoder's largest reduction)."""
    need, div = int(encoder.min_input_size), max(encoder.feature_reductions)
    sizes = [-(-int(s) // div) * div for s in image_size] if task == "segmentation" else list(image_size)
    if min(sizes) < need:
        raise ConfigError(
            f"preprocess.image_size {list(image_size)} is too small for encoder {encoder.name!r}: it needs at least "
            f"{need} per axis (it downsamples by {div}); set preprocess.image_size to "
            f"{need} or more (resize_mode 'resize' upsamples, 'pad_crop' zero-pads)")


def derive_preprocess(cfg: TrainConfig, source, pretrained_cfg, in_channels: int):
    """The :class:`~medtl.data.PreprocessConfig` for this run (data + encoder + overrides)."""
    from medtl.data import PreprocessConfig

    dims = source.spatial_dims
    o = cfg.preprocess
    size = o.image_size or DEFAULT_SIZE[dims]
    size = tuple(int(v) for v in size) if isinstance(size, (list, tuple)) else (int(size),) * dims
    if len(size) != dims:
        raise ConfigError(f"preprocess.image_size {list(size)} needs 1 or {dims} values for {dims}D data")
    intensity = o.intensity or _intensity_for(source)
    mean = tuple(float(v) for v in pretrained_cfg.mean)
    std = tuple(float(v) for v in pretrained_cfg.std)
    if len(mean) != in_channels:  # mean/std per encoder input channel
        mean, std = (float(np.mean(mean)),) * in_channels, (float(np.mean(std)),) * in_channels
    values = {
        "spatial_dims": dims,
        "image_size": size,
        "in_channels": in_channels,
        "intensity": intensity,
        "window": tuple(o.window) if o.window else ((400.0, 40.0) if intensity == "ct_window" else None),
        "percentiles": tuple(o.percentiles) if o.percentiles else (1.0, 99.0),
        "target_spacing": tuple(o.target_spacing) if o.target_spacing else None,
        "canonical": bool(o.canonical) if o.canonical is not None else False,
        "mean": mean,
        "std": std,
        "resize_mode": o.resize_mode or "resize",
    }
    known = {f.name for f in dataclasses.fields(PreprocessConfig)}
    return PreprocessConfig(**{k: v for k, v in values.items() if k in known})


def apply_label_fraction(source, fraction: float, seed: int, task: str, log=print) -> None:
    """Keep ``fraction`` of the training records (medtl.data.subsets), in place; the data fingerprint
    then names the subset, so caches and the model card tell the subset from the full data."""
    if fraction >= 1.0:
        return
    import hashlib

    from medtl.data.subsets import label_subset

    full = source.records["train"]
    kept = label_subset(full, task, fraction, seed)
    source.records["train"] = kept
    source.fingerprint = hashlib.sha256(f"{source.fingerprint}|labels {fraction!r} seed {seed}".encode()).hexdigest()[
        : len(source.fingerprint) or 16]
    source.extra["label_fraction"] = {"fraction": fraction, "seed": seed, "n_train_full": len(full)}
    log(f"labels: training on {len(kept)} of {len(full)} training items (label_fraction {fraction:g}, "
        f"label_seed {seed}); val/test unchanged")


def strip_records(records: list[dict], task: str) -> list[dict]:
    """Only what the model consumes (MONAI collation cannot batch ``None`` patient ids)."""
    keys = ("image", "label") if task == "classification" else ("image", "mask")
    out = []
    for r in records:
        item = {k: r[k] for k in keys + ("rehearsal",) if k in r}
        if task == "classification" and isinstance(item.get("label"), list):
            item["label"] = np.asarray(item["label"], dtype=np.float32)
        out.append(item)
    return out


def make_split_dataset(cfg: TrainConfig, records: list[dict], preprocess, *, train: bool,
                       cache_dir: Path | None = None):
    """One split as a torch Dataset; ``train=True`` adds augmentation (after the cached part)."""
    from medtl.data import AugmentConfig, build_transforms, make_dataset

    mask_key = "mask" if cfg.task == "segmentation" else None
    augment = (AugmentConfig(**cfg.augment) if cfg.augment else AugmentConfig()) if train else None
    tf = build_transforms(preprocess, train=train, keys=("image",), mask_key=mask_key, augment=augment)
    return make_dataset(strip_records(records, cfg.task), tf, cache=cfg.data.cache, cache_dir=cache_dir)


def build_datasets(cfg: TrainConfig, source, preprocess, *, augment_train: bool = True,
                   cache_dir: Path | None = None) -> dict:
    """``{"train", "val", "test"}`` -> torch Dataset (train with augmentation unless told otherwise)."""
    out = {}
    for split in ("train", "val", "test"):
        records = source.records.get(split) or []
        if split in ("train", "val") and not records:
            raise DataError(f"the {split} split is empty", path=source.source)
        out[split] = make_split_dataset(cfg, records, preprocess, train=augment_train and split == "train",
                                        cache_dir=None if cache_dir is None else cache_dir / split)
    return out


def class_counts(source, num_classes: int) -> np.ndarray:
    labels = [r["label"] for r in source.records["train"]]
    if source.multilabel:
        return np.asarray(labels, dtype=np.float64).sum(axis=0)
    return np.bincount(np.asarray(labels, dtype=int), minlength=num_classes).astype(np.float64)


def class_weights(source, num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights ``N / (K * n_k)`` (multi-label: BCE ``pos_weight`` = neg/pos)."""
    counts = class_counts(source, num_classes)
    n = len(source.records["train"])
    if source.multilabel:
        return torch.tensor((n - counts) / np.maximum(counts, 1.0), dtype=torch.float32)
    w = n / (num_classes * np.maximum(counts, 1.0))
    return torch.tensor(w, dtype=torch.float32)


def sample_weights(source, num_classes: int) -> torch.Tensor:
    counts = class_counts(source, num_classes)
    labels = np.asarray([r["label"] for r in source.records["train"]], dtype=int)
    return torch.tensor(1.0 / np.maximum(counts[labels], 1.0), dtype=torch.double)
