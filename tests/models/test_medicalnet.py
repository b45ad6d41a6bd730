"""MedicalNet files ({"state_dict": {"module.<k>": v}}, 3D, 1 channel) load exactly."""

from __future__ import annotations

import pytest
import torch
from monai.networks.nets import ResNet

from medtl.errors import ConfigError, WeightsError
from medtl.models import create_encoder

from .published_weights import isolate_weight_dirs, medicalnet_file, resnet_state, save


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    isolate_weight_dirs(monkeypatch, tmp_path)
    return tmp_path / "weights"


@pytest.mark.parametrize("depth,layers", [(18, [2, 2, 2, 2]), (10, [1, 1, 1, 1])])
def test_type_a_files_equal_medicalnet_network(weights_dir, depth, layers):
    """MedicalNet-18/34 have parameter-free type-A shortcuts; medtl's fixed identity projections
    must reproduce that network exactly (eval mode). Any depth's type-A file loads this way."""
    torch.manual_seed(0)
    state = resnet_state(depth, dims=3, in_ch=1, shortcut="A", fc=False)
    save(medicalnet_file(state), weights_dir, f"resnet_{depth}_23dataset.pth")
    enc = create_encoder(f"resnet{depth}", weights="medicalnet", spatial_dims=3, weights_dir=weights_dir).eval()
    cfg = enc.pretrained_cfg
    assert (cfg.source, cfg.file_name, cfg.in_chans, cfg.mean, cfg.std) == (
        "medicalnet", f"resnet_{depth}_23dataset.pth", 1, (0.0,), (1.0,))
    assert "type-A" in cfg.notes
    ref = ResNet("basic", layers, [64, 128, 256, 512], spatial_dims=3, n_input_channels=1,
                 conv1_t_size=7, conv1_t_stride=2, shortcut_type="A", feed_forward=False)
    ref.load_state_dict(state, strict=True)
    x = torch.randn(1, 1, 32, 32, 32)
    with torch.no_grad():
        assert torch.allclose(enc.forward_pooled(x), ref.eval()(x), atol=1e-4)


@pytest.mark.parametrize("depth", [10, 50])
def test_type_b_files_load_as_published(weights_dir, depth):
    state = resnet_state(depth, dims=3, in_ch=1, shortcut="B", fc=False)
    save(medicalnet_file(state), weights_dir, f"resnet_{depth}.pth")  # the plain (8-dataset) release
    enc = create_encoder(f"resnet{depth}", weights="medicalnet", spatial_dims=3, weights_dir=weights_dir)
    assert enc.pretrained_cfg.file_name == f"resnet_{depth}.pth" and "type-A" not in enc.pretrained_cfg.notes
    assert torch.equal(enc.net.layer2[0].downsample[0].weight, state["layer2.0.downsample.0.weight"])


def test_segmentation_head_dropped_and_multichannel(weights_dir):
    state = resnet_state(10, dims=3, in_ch=1, fc=False)
    raw = medicalnet_file(state)
    raw["state_dict"]["module.conv_seg.0.weight"] = torch.zeros(32, 512, 3, 3, 3)
    save(raw, weights_dir, "resnet_10_23dataset.pth")
    enc = create_encoder("resnet10", weights="medicalnet", spatial_dims=3, in_channels=2, weights_dir=weights_dir)
    assert torch.allclose(enc.net.conv1.weight, state["conv1.weight"].repeat(1, 2, 1, 1, 1) / 2)
    assert enc.pretrained_cfg.mean == (0.0, 0.0)


def test_wrong_depth_file_is_a_mismatch(weights_dir):
    save(medicalnet_file(resnet_state(10, dims=3, in_ch=1, fc=False)), weights_dir, "resnet_18.pth")
    with pytest.raises(WeightsError) as info:
        create_encoder("resnet18", weights="medicalnet", spatial_dims=3, weights_dir=weights_dir)
    assert info.value.code == "weights_mismatch" and "missing: net.layer1.1.conv1.weight" in str(info.value)


def test_2d_refused_and_missing_file_message(weights_dir):
    with pytest.raises(ConfigError, match="3D"):
        create_encoder("resnet18", weights="medicalnet", spatial_dims=2)
    with pytest.raises(WeightsError) as info:
        create_encoder("resnet34", weights="medicalnet", spatial_dims=3, weights_dir=weights_dir)
    msg = str(info.value)
    assert info.value.code == "weights_missing"
    assert "resnet_34_23dataset.pth or resnet_34.pth" in msg and "huggingface.co/TencentMedicalNet" in msg
