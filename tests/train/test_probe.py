"""Linear probe: the folded linear head reproduces scikit-learn; embeddings are cached."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medtl.train import train
from medtl.train.calibration import probabilities
from medtl.train.embeddings import EmbeddingCache, cache_key
from medtl.train.probe import fit_probe

from .helpers import tiny_config


def _features(n, k=2, f=6, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    x = rng.normal(0, 1, (n, f)) * np.linspace(0.01, 100, f)  # badly scaled features
    x[:, 0] += 3.0 * y
    return x.astype(np.float32), y


def test_binary_probe_matches_sklearn_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    (xtr, ytr), (xva, yva) = _features(200), _features(80, seed=1)
    res = fit_probe((xtr, ytr), (xva, yva), num_classes=2, multilabel=False, c_grid=[0.1, 1.0], balanced=False)
    assert res.weight.shape == (2, 6) and res.C in (0.1, 1.0) and len(res.history) == 2
    mu, sd = xtr.mean(0), xtr.std(0)
    ref = LogisticRegression(C=res.C, max_iter=2000).fit((xtr - mu) / sd, ytr)
    ours = probabilities(xva @ res.weight.T + res.bias)[:, 1]
    assert np.allclose(ours, ref.predict_proba((xva - mu) / sd)[:, 1], atol=1e-4)
    assert res.history[0]["val_auc"] > 0.9


def test_multiclass_probe_with_a_class_missing_from_train():
    (xtr, ytr), (xva, yva) = _features(150, k=3), _features(60, k=3, seed=2)
    keep = ytr != 2
    res = fit_probe((xtr[keep], ytr[keep]), (xva, yva), num_classes=3, multilabel=False, c_grid=[1.0])
    probs = probabilities(xva @ res.weight.T + res.bias)
    assert probs.shape == (60, 3) and probs[:, 2].max() < 1e-6


def test_cache_key_depends_on_what_the_features_depend_on(tmp_path):
    base = dict(fingerprint="f", split="train", preprocess={"a": 1}, encoder="tiny", in_channels=1,
                weights="imagenet", weights_sha256="abc", seed=0)
    key = cache_key(**base)
    assert cache_key(**(base | {"seed": 5})) == key  # pretrained weights: the seed does not matter
    for change in ({"split": "val"}, {"preprocess": {"a": 2}}, {"weights_sha256": "abd"}, {"fingerprint": "g"}):
        assert cache_key(**(base | change)) != key
    none = base | {"weights": "none", "weights_sha256": None}
    assert cache_key(**none) != cache_key(**(none | {"seed": 1}))
    cache = EmbeddingCache(tmp_path)
    (tmp_path / f"{key}.npz").write_bytes(b"garbage")  # a damaged file is recomputed
    feats, labels = cache.get_or_compute(key, lambda: (np.ones((2, 3), np.float32), np.array([0, 1])))
    assert cache.misses == 1 and cache.get(key)[0].shape == (2, 3)


def test_second_run_reuses_embeddings_without_calling_the_encoder(npz_2d, tmp_path, monkeypatch):
    first = train(tiny_config(npz_2d, tmp_path / "a", strategy="linear-probe"))
    assert len(list((tmp_path / "emb").glob("*.npz"))) == 3  # train, val, test

    def fail(*args, **kwargs):
        raise AssertionError("the encoder was called although the embeddings are cached")

    monkeypatch.setattr("medtl.train.embeddings.compute_embeddings", fail)
    from medtl.models.tiny import TinyEncoder

    monkeypatch.setattr(TinyEncoder, "forward_features", fail)
    second = train(tiny_config(npz_2d, tmp_path / "b", strategy="linear-probe"))
    a = json.loads((first.run_dir / "metrics.json").read_text())
    b = json.loads((second.run_dir / "metrics.json").read_text())
    assert a["test"] == b["test"] and a["probe_C"] == b["probe_C"]
    with pytest.raises(AssertionError):  # a changed preprocessing is a cache miss
        train(tiny_config(npz_2d, tmp_path / "c", strategy="linear-probe", size=40))
