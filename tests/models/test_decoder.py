import pytest
import torch

from medtl.models.decoder import UNetDecoder, crop_or_pad_to, crop_to, pad_to_multiple
from medtl.models.registry import create_encoder


@pytest.mark.parametrize("spatial_dims,size", [(2, (32, 32)), (2, (33, 47)), (3, (17, 24, 9))])
def test_decoder_output_matches_input_size(spatial_dims, size):
    enc = create_encoder("tiny", spatial_dims=spatial_dims, in_channels=1)
    dec = UNetDecoder(enc.feature_channels, enc.feature_reductions, spatial_dims, num_classes=3,
                      decoder_channels=(16, 8, 8, 4))
    x = torch.randn(2, 1, *size)
    padded, orig = pad_to_multiple(x, dec.divisor)
    assert all(s % dec.divisor == 0 for s in padded.shape[2:])
    out = crop_to(dec(enc.forward_features(padded)), orig)
    assert out.shape == (2, 3, *size)


def test_decoder_without_classes_returns_maps_and_uses_last_channels():
    dec = UNetDecoder([4, 8, 16], [2, 4, 8], 2, num_classes=None, decoder_channels=(64, 32, 16, 8))
    feats = [torch.randn(1, 4, 16, 16), torch.randn(1, 8, 8, 8), torch.randn(1, 16, 4, 4)]
    out = dec(feats)
    assert dec.out_channels == 8 and out.shape == (1, 8, 32, 32)  # 3 stages: (32, 16, 8) used


def test_decoder_skips_matter():
    torch.manual_seed(0)
    dec = UNetDecoder([4, 8], [2, 4], 2, num_classes=2, decoder_channels=(8, 8)).eval()
    feats = [torch.randn(1, 4, 8, 8), torch.randn(1, 8, 4, 4)]
    changed = [feats[0] + 1.0, feats[1]]
    assert not torch.allclose(dec(feats), dec(changed))


def test_decoder_aligns_mismatched_skip_sizes():
    # an encoder with ceil-mode strides gives 5x5 and 3x3 maps; upsampled 3->6 must be cropped to 5
    dec = UNetDecoder([4, 8], [2, 4], 2, num_classes=2, decoder_channels=(8, 8))
    out = dec([torch.randn(1, 4, 5, 5), torch.randn(1, 8, 3, 3)])
    assert out.shape == (1, 2, 10, 10)


def test_decoder_rejects_bad_configs():
    with pytest.raises(ValueError, match="at least"):
        UNetDecoder([4, 8, 16], [2, 4, 8], 2, num_classes=2, decoder_channels=(8, 8))
    with pytest.raises(ValueError, match="equal length"):
        UNetDecoder([4, 8], [2], 2, num_classes=2)
    dec = UNetDecoder([4, 8], [2, 4], 2, num_classes=2, decoder_channels=(8, 8))
    with pytest.raises(ValueError, match="feature maps"):
        dec([torch.randn(1, 4, 8, 8)])


def test_pad_and_crop_helpers():
    x = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(1, 2, 5, 3)
    padded, size = pad_to_multiple(x, 4)
    assert padded.shape == (1, 2, 8, 4) and size == (5, 3)
    assert torch.equal(padded[:, :, 5:, :3], x[:, :, 4:5, :].expand(1, 2, 3, 3))  # replicate
    assert torch.equal(crop_to(padded, size), x)
    assert crop_or_pad_to(x, (4, 6)).shape == (1, 2, 4, 6)
    same, _ = pad_to_multiple(x[:, :, :4, :], 2)
    assert same.shape == (1, 2, 4, 4)
