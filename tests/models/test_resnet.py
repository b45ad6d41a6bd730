"""ResNet encoders: torchvision-format ImageNet files load exactly, 2D and inflated 3D."""

from __future__ import annotations

import pytest
import torch
from monai.networks.nets import ResNet

from medtl.errors import ConfigError, WeightsError
from medtl.models import create_encoder

from .published_weights import isolate_weight_dirs, resnet_state, save

R18 = "resnet18-f37072fd.pth"


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    isolate_weight_dirs(monkeypatch, tmp_path)
    return tmp_path / "weights"


def _reference_2d(state, block="basic", layers=(2, 2, 2, 2)):
    """The published network (torchvision layout) on torch (rows, cols) tensors."""
    ref = ResNet(block, list(layers), [64, 128, 256, 512], spatial_dims=2, n_input_channels=3,
                 conv1_t_size=7, conv1_t_stride=2, shortcut_type="B", bias_downsample=False,
                 num_classes=1000)
    ref.load_state_dict(state, strict=False)  # BN counters absent from the file
    return ref.eval()


def test_imagenet_2d_equals_published_network_in_medtl_layout(weights_dir):
    torch.manual_seed(0)
    state = resnet_state(18)
    path = save(state, weights_dir, R18)
    enc = create_encoder("resnet18", weights="imagenet", in_channels=3, weights_dir=weights_dir,
                         keep_classifier=True).eval()
    cfg = enc.pretrained_cfg
    assert (cfg.source, cfg.file_name, cfg.in_chans, cfg.path) == ("imagenet", R18, 3, str(path))
    assert cfg.mean == (0.485, 0.456, 0.406) and len(cfg.sha256) == 64
    x = torch.randn(2, 3, 64, 48)  # torch layout (rows, cols)
    with torch.no_grad():
        expected = _reference_2d(state)(x)
        got = enc.forward_logits(x.transpose(-1, -2))  # medtl layout (cols, rows)
    assert torch.allclose(got, expected, atol=1e-4)
    assert [g for g, _ in enc.param_groups()] == ["stem", "layer1", "layer2", "layer3", "layer4", "classifier"]


def test_fc_dropped_and_one_channel(weights_dir):
    torch.manual_seed(0)
    state = resnet_state(18, tracked=True)
    save(state, weights_dir, R18)
    enc = create_encoder("resnet18", weights="imagenet", in_channels=1, weights_dir=weights_dir).eval()
    assert not any(k.startswith("net.fc") for k in enc.state_dict())
    assert torch.allclose(enc.net.conv1.weight, state["conv1.weight"].sum(1, keepdim=True).transpose(-1, -2))
    assert enc.pretrained_cfg.mean == pytest.approx((0.449,), abs=1e-3)
    assert enc.forward_pooled(torch.rand(1, 1, 32, 32)).shape == (1, 512)


def test_resnet50_bottleneck_keys(weights_dir):
    save(resnet_state(50), weights_dir, "resnet50-11ad3fa6.pth")  # the V2 file is accepted too
    enc = create_encoder("resnet50", weights="imagenet", in_channels=2, weights_dir=weights_dir).eval()
    assert enc.pretrained_cfg.file_name == "resnet50-11ad3fa6.pth"
    assert enc.net.conv1.weight.shape == (64, 2, 7, 7)
    feats = enc.forward_features(torch.rand(1, 2, 32, 32))
    assert [f.shape[1] for f in feats] == [64, 256, 512, 1024, 2048] == enc.feature_channels


@pytest.mark.parametrize("change", ["missing", "extra", "shape"])
def test_mismatch_fails_loudly(weights_dir, change):
    state = resnet_state(18)
    if change == "missing":
        del state["layer3.1.bn2.running_var"]
        words = "missing: net.layer3.1.bn2.running_var"
    elif change == "extra":
        state["layer5.0.conv1.weight"] = torch.zeros(1, 1, 3, 3)
        words = "unexpected: net.layer5.0.conv1.weight"
    else:
        state["layer1.0.conv2.weight"] = torch.zeros(64, 64, 5, 5)
        words = "net.layer1.0.conv2.weight: file (64, 64, 5, 5) vs model (64, 64, 3, 3)"
    save(state, weights_dir, R18)
    with pytest.raises(WeightsError) as info:
        create_encoder("resnet18", weights="imagenet", in_channels=3, weights_dir=weights_dir)
    assert info.value.code == "weights_mismatch" and words in str(info.value)
    assert R18 in str(info.value)


def test_missing_file_message(weights_dir):
    with pytest.raises(WeightsError) as info:
        create_encoder("resnet34", weights="imagenet", weights_dir=weights_dir)
    msg = str(info.value)
    assert info.value.code == "weights_missing"
    assert "resnet34-b627a593.pth" in msg and "https://download.pytorch.org/models/resnet34-b627a593.pth" in msg
    assert str(weights_dir) in msg and "MEDTL_WEIGHTS_DIR" in msg


def test_sources_checked():
    with pytest.raises(ConfigError, match="no 'imagenet' weights"):
        create_encoder("resnet10", weights="imagenet")
    with pytest.raises(ConfigError, match="keep_classifier"):
        create_encoder("resnet18", weights="none", keep_classifier=True)
