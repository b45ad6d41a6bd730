"""MONAI datasets that surface the readers' typed errors (MONAI wraps them in RuntimeError)."""

from __future__ import annotations

from monai.data import CacheDataset, Dataset, PersistentDataset

from medtl.data.transforms import typed_errors


class _TypedErrors:
    def __getitem__(self, index):
        with typed_errors():
            return super().__getitem__(index)


class MedtlDataset(_TypedErrors, Dataset):
    pass


class MedtlCacheDataset(_TypedErrors, CacheDataset):
    def __init__(self, *args, **kwargs):
        with typed_errors():  # the cache is filled here
            super().__init__(*args, **kwargs)


class MedtlPersistentDataset(_TypedErrors, PersistentDataset):
    pass
