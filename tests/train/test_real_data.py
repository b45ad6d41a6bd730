"""Real data (skipped when ../shared/data is absent): a linear probe on BreastMNIST with ImageNet weights."""

from __future__ import annotations

import pytest

from medtl.train import evaluate, load_config, train


@pytest.mark.slow
def test_breastmnist_linear_probe_imagenet(shared_data, tmp_path):
    npz = shared_data / "breastmnist" / "breastmnist.npz"
    if not npz.is_file():
        pytest.skip(f"{npz} not available")
    cfg = load_config(overrides=[
        f"data.path={npz}", f"out={tmp_path / 'run'}", "strategy=linear-probe", "model.encoder=efficientnet-lite0",
        "model.weights=imagenet", "preprocess.image_size=64", "quiet=true",
        f"linear_probe.cache_dir={tmp_path / 'emb'}",
    ])
    result = train(cfg)
    test = result.metrics["test"]
    assert test["n"] == 156 and test["auc"] > 0.75 and test["accuracy"] > 0.65
    assert result.metrics["val"]["ece_after"] <= result.metrics["val"]["ece_before"] + 0.05
    again = evaluate(result.run_dir, npz, "test")
    assert again["auc"] == pytest.approx(test["auc"], abs=1e-6)
