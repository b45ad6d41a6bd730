"""Channel adaptation, axis layout and 2D -> 3D inflation keep the pretrained function."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from medtl.models import create_encoder
from medtl.models.adapt import (
    adapt_input_channels,
    adapt_normalisation,
    adapt_state_dict,
    inflate_kernel,
    transpose_kernel,
)

from .published_weights import isolate_weight_dirs, resnet_state, save


@pytest.mark.parametrize("channels", [1, 2, 4, 6])
def test_grey_image_gives_the_original_response(channels):
    torch.manual_seed(0)
    rgb_weight = torch.randn(8, 3, 3, 3)
    grey = torch.rand(2, 1, 16, 16)
    expected = F.conv2d(grey.repeat(1, 3, 1, 1), rgb_weight)
    adapted = adapt_input_channels(rgb_weight, channels)
    assert adapted.shape == (8, channels, 3, 3)
    got = F.conv2d(grey.repeat(1, channels, 1, 1), adapted)
    assert torch.allclose(got, expected, atol=1e-5)


def test_multiple_of_three_keeps_colour_structure():
    w = torch.randn(4, 3, 3, 3)
    assert torch.allclose(adapt_input_channels(w, 6)[:, 3:], w / 2)
    assert adapt_input_channels(w, 3) is w


def test_transposed_kernel_on_medtl_layout_equals_original():
    w, img = torch.randn(5, 2, 3, 5), torch.randn(1, 2, 20, 17)  # (rows, cols) torch layout
    expected = F.conv2d(img, w, stride=2, padding=1)
    got = F.conv2d(img.transpose(-1, -2), transpose_kernel(w), stride=2, padding=1)
    assert torch.allclose(got, expected.transpose(-1, -2), atol=1e-5)


def test_inflated_conv_on_depth_constant_volume():
    w, img = torch.randn(4, 2, 3, 3), torch.randn(1, 2, 12, 10)
    w3 = inflate_kernel(w, 3)
    assert w3.shape == (4, 2, 3, 3, 3)
    vol = img.unsqueeze(-1).repeat(1, 1, 1, 1, 9)
    out = F.conv3d(vol, w3, padding=1)
    ref = F.conv2d(img, w, padding=1)
    for z in range(1, 8):  # away from the two border slices (zero padding along depth)
        assert torch.allclose(out[..., z], ref, atol=1e-5)


def test_adapt_state_dict_leaves_unknown_keys_and_1d_tensors():
    target = {"conv.weight": torch.zeros(4, 1, 3, 3, 3), "bn.weight": torch.zeros(4)}
    state = {"conv.weight": torch.randn(4, 3, 3, 3), "bn.weight": torch.randn(4), "x": torch.randn(2, 3, 3, 3)}
    out = adapt_state_dict(state, target, first_conv="conv.weight")
    assert out["conv.weight"].shape == (4, 1, 3, 3, 3)
    assert torch.equal(out["bn.weight"], state["bn.weight"]) and torch.equal(out["x"], state["x"])


def test_normalisation_for_other_channel_counts():
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    assert adapt_normalisation(mean, std, 3) == (mean, std)
    m1, s1 = adapt_normalisation(mean, std, 1)
    assert m1 == pytest.approx((sum(mean) / 3,)) and s1 == pytest.approx((sum(std) / 3,))
    assert len(adapt_normalisation(mean, std, 4)[0]) == 4


def test_inflated_resnet_matches_2d_per_slice(tmp_path, monkeypatch):
    """The whole network (convs, BatchNorm3d, pooling): a depth-constant volume gives the 2D
    encoder's features on every slice away from the borders."""
    isolate_weight_dirs(monkeypatch, tmp_path)
    torch.manual_seed(0)
    folder = tmp_path / "w"
    save(resnet_state(18), folder, "resnet18-f37072fd.pth")
    enc2 = create_encoder("resnet18", weights="imagenet", spatial_dims=2, in_channels=1, weights_dir=folder).eval()
    enc3 = create_encoder("resnet18", weights="imagenet", spatial_dims=3, in_channels=1, weights_dir=folder).eval()
    assert enc3.pretrained_cfg.sha256 == enc2.pretrained_cfg.sha256 and "inflated" in enc3.pretrained_cfg.notes
    img = torch.rand(1, 1, 32, 32)
    vol = img.unsqueeze(-1).repeat(1, 1, 1, 1, 64)
    with torch.no_grad():
        f2, f3 = enc2.forward_features(img), enc3.forward_features(vol)
    # stem (depth 32, 7^3 conv: 2 border slices) and layer1 (depth 16: max-pool + four 3^3 convs
    # reach 9 stem slices further, so only slices 6..9 see no zero padding)
    for level, interior in ((0, range(2, 30)), (1, range(6, 10))):
        assert f3[level].shape[-1] == 64 // enc3.feature_reductions[level]
        for z in interior:
            assert torch.allclose(f3[level][..., z], f2[level], atol=1e-4), (level, z)
        assert not torch.allclose(f3[level][..., 0], f2[level], atol=1e-4)  # borders do differ
