"""DenseNet-121: torchvision files (pre-0.4 ``norm.1`` names and current names) map to MONAI."""

from __future__ import annotations

import pytest
import torch

from medtl.errors import WeightsError
from medtl.models import create_encoder

from .published_weights import densenet121_state, isolate_weight_dirs, save

FILE = "densenet121-a639ec97.pth"


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    isolate_weight_dirs(monkeypatch, tmp_path)
    return tmp_path / "weights"


@pytest.mark.parametrize("old_style", [True, False])
def test_torchvision_keys_load_exactly(weights_dir, old_style):
    torch.manual_seed(0)
    state = densenet121_state(old_style=old_style)
    save(state, weights_dir, FILE)
    enc = create_encoder("densenet121", weights="imagenet", in_channels=3, weights_dir=weights_dir).eval()
    name = "norm.1" if old_style else "norm1"
    src = state[f"features.denseblock3.denselayer7.{name}.running_mean"]
    assert torch.equal(enc.net.features.denseblock3.denselayer7.layers.norm1.running_mean, src)
    assert torch.equal(enc.net.features.conv0.weight, state["features.conv0.weight"].transpose(-1, -2))
    assert not any("classifier" in k or "class_layers" in k for k in enc.state_dict())
    feats = enc.forward_features(torch.rand(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == enc.feature_channels == [64, 256, 512, 1024, 1024]
    assert [64 // f.shape[-1] for f in feats] == enc.feature_reductions
    assert enc.forward_pooled(torch.rand(1, 3, 64, 64)).shape == (1, 1024)


def test_inflated_3d(weights_dir):
    save(densenet121_state(), weights_dir, FILE)
    enc = create_encoder("densenet121", weights="imagenet", spatial_dims=3, in_channels=1, weights_dir=weights_dir)
    assert enc.net.features.conv0.weight.shape == (64, 1, 7, 7, 7)
    assert enc.pretrained_cfg.mean == pytest.approx((0.449,), abs=1e-3)


def test_mismatch(weights_dir):
    state = densenet121_state()
    state["features.denseblock4.denselayer16.norm.2.weight"] = torch.ones(64)
    save(state, weights_dir, FILE)
    with pytest.raises(WeightsError) as info:
        create_encoder("densenet121", weights="imagenet", in_channels=3, weights_dir=weights_dir)
    assert info.value.code == "weights_mismatch"
    assert "net.features.denseblock4.denselayer16.layers.norm2.weight: file (64,) vs model (128,)" in str(info.value)
