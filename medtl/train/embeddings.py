"""Embedding cache for linear probes: pooled encoder features computed once per split.

The key hashes everything the features depend on: the data fingerprint, the split, the
preprocessing, the encoder name, its input channels and its weights (sha256 of the file loaded;
for random init the seed, since the encoder is re-created from it). Files are ``<key>.npz``
(``features`` (N, F) float32, ``labels``) written atomically under the cache folder
(``linear_probe.cache_dir``; by default ``<run dir>/embeddings``, so training writes nothing outside
the output folder the user named; point several runs at one shared folder to reuse embeddings).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import torch

from medtl.fileio import atomic_write_bytes


def cache_key(*, fingerprint: str, split: str, preprocess: dict, encoder: str, in_channels: int,
              weights: str, weights_sha256: str | None, seed: int) -> str:
    ident = {
        "fingerprint": fingerprint,
        "split": split,
        "preprocess": preprocess,
        "encoder": encoder,
        "in_channels": in_channels,
        "weights": weights_sha256 or weights,
        # Only a randomly initialised encoder depends on the seed.
        "seed": seed if not weights_sha256 and weights == "none" else None,
    }
    text = json.dumps(ident, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@torch.no_grad()
def compute_embeddings(encoder: torch.nn.Module, loader, rt) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features of every item in ``loader`` (encoder in eval mode) and their labels."""
    from medtl.train.loop import _bar, batch_inputs

    encoder.eval()
    feats, labels = [], []
    for batch in _bar(loader, rt, desc="embed", leave=False, unit="batch"):
        with rt.autocast():
            feats.append(encoder.forward_pooled(batch_inputs(batch, rt)).float().cpu().numpy())
        labels.append(np.asarray(torch.as_tensor(batch["label"]).cpu().numpy()))
    if not feats:
        return np.zeros((0, getattr(encoder, "num_features", 0)), np.float32), np.zeros((0,), np.int64)
    return np.concatenate(feats).astype(np.float32), np.concatenate(labels)


class EmbeddingCache:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder).expanduser()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        path = self.folder / f"{key}.npz"
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                return z["features"], z["labels"]
        except Exception:  # a damaged cache file is recomputed, never trusted
            return None

    def put(self, key: str, features: np.ndarray, labels: np.ndarray) -> None:
        buf = io.BytesIO()
        np.savez(buf, features=features, labels=labels)
        atomic_write_bytes(self.folder / f"{key}.npz", buf.getvalue())

    def get_or_compute(self, key: str, compute, *, write: bool = True) -> tuple[np.ndarray, np.ndarray]:
        found = self.get(key)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        features, labels = compute()
        if write:
            self.put(key, features, labels)
        return features, labels
