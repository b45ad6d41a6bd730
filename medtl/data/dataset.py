"""Datasets that decode each scan once: MONAI CacheDataset (memory) or PersistentDataset (disk).

Both cache the output of the transform chain up to its first random transform, so decoding,
resampling and resizing run once; augmentation still runs every epoch. The disk cache lives in a
sub-folder of ``cache_dir`` named after the preprocessing spec, and each item's key includes the
size and modification time of the files it reads, so a changed file or config is not served stale.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

from medtl.errors import ConfigError

CACHE_MODES = ("memory", "disk", "none")


def _file_stamp(value) -> list:
    if isinstance(value, list | tuple):  # several mask files merged when read
        return [_file_stamp(v) for v in value]
    if isinstance(value, str | os.PathLike) and os.path.exists(value):
        p = Path(value)
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        return [str(value)] + [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()]
    return []


def _record_hash(item) -> bytes:
    """PersistentDataset key: the record (arrays by content) plus the stamps of its files."""
    stamps = [_file_stamp(v) for v in item.values()] if isinstance(item, dict) else []
    h = hashlib.md5(pickle.dumps(item, protocol=4), usedforsecurity=False)  # hashing only, never loaded
    h.update(json.dumps(stamps, default=str).encode())
    return h.hexdigest().encode()


def _spec_dir(transforms, cache_dir: str | os.PathLike) -> Path:
    spec = getattr(transforms, "medtl_spec", None) or {"repr": repr(transforms)}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Path(cache_dir) / key


def make_dataset(records: list[dict], transforms, *, cache: str = "memory", cache_dir=None, num_workers: int = 0):
    """A torch ``Dataset`` over ``records`` with the deterministic part of ``transforms`` cached.

    ``cache="memory"``: ``monai.data.CacheDataset`` (decoded once, at construction);
    ``"disk"``: ``monai.data.PersistentDataset`` under ``cache_dir`` (survives between runs);
    ``"none"``: ``monai.data.Dataset`` (decode every time; for data that does not fit in memory).
    """
    from medtl.data.cached import MedtlCacheDataset, MedtlDataset, MedtlPersistentDataset

    if cache not in CACHE_MODES:
        raise ConfigError(f"unknown cache mode {cache!r}; use one of {list(CACHE_MODES)}")
    records = list(records)
    if cache == "memory":
        return MedtlCacheDataset(records, transforms, cache_rate=1.0, num_workers=max(1, num_workers), progress=False)
    if cache == "disk":
        if cache_dir is None:
            raise ConfigError("cache='disk' needs a cache_dir")
        folder = _spec_dir(transforms, cache_dir)
        folder.mkdir(parents=True, exist_ok=True)
        return MedtlPersistentDataset(records, transforms, cache_dir=folder, hash_func=_record_hash)
    return MedtlDataset(records, transforms)
