import pytest
import torch

from medtl.models import ModelConfig, build_model, predict_logits


def _model(task, spatial_dims=2):
    torch.manual_seed(0)
    cfg = ModelConfig(task=task, encoder="tiny", weights="none", spatial_dims=spatial_dims, in_channels=1,
                      num_classes=2, decoder_channels=(8, 8, 8, 4))
    return build_model(cfg).eval()


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_sliding_window_covers_input_twice_the_patch(spatial_dims):
    model = _model("segmentation", spatial_dims)
    patch = (16,) * spatial_dims
    x = torch.randn(1, 1, *(2 * p for p in patch))
    out = predict_logits(model, x, roi_size=patch, sw_batch_size=2)
    assert out.shape == (1, 2, *x.shape[2:]) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    # windows really were used: the result differs from one whole-volume pass
    with torch.no_grad():
        whole = model(x)
    assert not torch.allclose(out, whole)


def test_no_windows_when_input_fits_the_patch():
    model = _model("segmentation")
    x = torch.randn(2, 1, 16, 12)
    with torch.no_grad():
        expected = model(x)
    assert torch.allclose(predict_logits(model, x, roi_size=16), expected)
    assert torch.allclose(predict_logits(model, x), expected)


def test_classification_is_a_plain_forward_and_accepts_loaded_model():
    model = _model("classification")
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        expected = model(x)

    class Loaded:  # like LoadedModel: the network is in .model
        pass

    loaded = Loaded()
    loaded.model = model
    assert torch.allclose(predict_logits(loaded, x, roi_size=8), expected)


def test_metatensor_input_gives_plain_tensor():
    from monai.data import MetaTensor

    model = _model("classification")
    out = predict_logits(model, MetaTensor(torch.randn(1, 1, 32, 32)))
    assert type(out) is torch.Tensor and out.shape == (1, 2)


def test_bad_input_shape():
    with pytest.raises(ValueError, match="expected a batch"):
        predict_logits(_model("classification"), torch.randn(1, 32, 32))
    with pytest.raises(ValueError, match="roi_size"):
        predict_logits(_model("segmentation"), torch.randn(1, 1, 32, 32), roi_size=(8, 8, 8))
