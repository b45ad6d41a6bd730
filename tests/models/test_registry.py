"""Registry, Encoder protocol (every registered encoder) and the model-directory weight source."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from medtl.errors import ConfigError, WeightsError
from medtl.models import Encoder, PretrainedConfig, create_encoder, list_encoders, register_encoder

ALL = ["densenet121", "efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2", "resnet10",
       "resnet18", "resnet34", "resnet50", "tiny", "unet-res16", "unet-res32"]


def test_list_encoders_and_patterns():
    assert set(ALL) <= set(list_encoders())
    assert list_encoders("resnet*") == ["resnet10", "resnet18", "resnet34", "resnet50"]
    assert list_encoders("*lite*") == ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"]
    assert list_encoders("nothing*") == []


def test_unknown_names_sources_and_dims():
    with pytest.raises(ConfigError, match="unknown encoder 'vgg16'.*tiny"):
        create_encoder("vgg16")
    with pytest.raises(ConfigError, match="no 'imagenet' weights"):
        create_encoder("tiny", weights="imagenet")
    with pytest.raises(ConfigError, match="spatial_dims"):
        create_encoder("tiny", spatial_dims=4)
    with pytest.raises(ConfigError, match="in_channels"):
        create_encoder("tiny", in_channels=0)
    with pytest.raises(ConfigError, match="does not accept keep_classifier"):
        create_encoder("tiny", keep_classifier=True)
    assert create_encoder("tiny", weights=None, keep_classifier=None).pretrained_cfg.source == "none"
    with pytest.raises(ValueError, match="twice"):
        register_encoder("tiny")(lambda **kw: None)


@pytest.mark.parametrize("name", ALL)
def test_protocol_2d(name):
    enc = create_encoder(name, in_channels=2).eval()
    assert isinstance(enc, Encoder) and enc.name == name and (enc.spatial_dims, enc.in_channels) == (2, 2)
    assert isinstance(enc.pretrained_cfg, PretrainedConfig) and enc.pretrained_cfg.source == "none"
    assert len(enc.pretrained_cfg.mean) == 2
    x = torch.rand(2, 2, 64, 64)
    with torch.no_grad():
        feats = enc.forward_features(x)
        pooled = enc.forward_pooled(x)
    assert [f.shape[1] for f in feats] == enc.feature_channels
    assert [64 // f.shape[-1] for f in feats] == enc.feature_reductions
    assert enc.feature_reductions == sorted(enc.feature_reductions)
    assert pooled.shape == (2, enc.num_features)
    groups = enc.param_groups()
    flat = [id(p) for _, ps in groups for p in ps]
    assert groups[0][0] == "stem" and len(flat) == len(set(flat)) == len(list(enc.parameters()))


@pytest.mark.parametrize("name", ["tiny", "efficientnet-lite0", "resnet10", "unet-res16"])
def test_protocol_3d(name):
    enc = create_encoder(name, spatial_dims=3).eval()
    x = torch.rand(1, 1, 32, 32, 32)
    with torch.no_grad():
        feats = enc.forward_features(x)
    assert [f.shape[1] for f in feats] == enc.feature_channels
    assert [32 // f.shape[-1] for f in feats] == enc.feature_reductions


def test_tiny_is_tiny():
    assert sum(p.numel() for p in create_encoder("tiny").parameters()) < 5000


def _model_dir(tmp_path, encoder, *, name="tiny"):
    run = tmp_path / "run"
    run.mkdir()
    state = {f"encoder.{k}": v.contiguous() for k, v in encoder.state_dict().items()}
    state["head.fc.weight"] = torch.zeros(3, encoder.num_features)
    save_file(state, str(run / "model.safetensors"))
    (run / "model.json").write_text(json.dumps({
        "format": "medtl-model/1", "model": {"encoder": name, "spatial_dims": 2, "in_channels": 1},
        "preprocess": {"mean": [0.25], "std": [0.75]}, "model_id": "abc"}))
    return run


def test_weights_from_a_medtl_model_directory(tmp_path):
    torch.manual_seed(0)
    trained = create_encoder("tiny")
    for p in trained.parameters():
        p.data.normal_()
    run = _model_dir(tmp_path, trained)
    enc = create_encoder("tiny", weights=str(run))
    for (k, a), b in zip(trained.state_dict().items(), enc.state_dict().values()):
        assert torch.equal(a, b), k
    cfg = enc.pretrained_cfg
    assert cfg.source == "file" and cfg.file_name == "model.safetensors" and len(cfg.sha256) == 64
    assert (cfg.mean, cfg.std) == ((0.25,), (0.75,))


def test_model_directory_errors(tmp_path):
    with pytest.raises(WeightsError) as info:
        create_encoder("tiny", weights=str(tmp_path / "nope"))
    assert info.value.code == "weights_missing" and "nope" in str(info.value)
    run = _model_dir(tmp_path, create_encoder("tiny"))
    with pytest.raises(WeightsError, match="holds encoder 'tiny', not 'resnet10'"):
        create_encoder("resnet10", weights=str(run))
    with pytest.raises(WeightsError) as info:
        create_encoder("tiny", weights=str(run), in_channels=3)  # stem shape differs
    assert info.value.code == "weights_mismatch" and "stages.0.conv.weight" in str(info.value)
