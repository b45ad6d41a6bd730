import pytest
import torch

from medtl.models.heads import ClassificationHead, SegmentationHead


def test_classification_head_shapes_and_dropout():
    head = ClassificationHead(16, 3, dropout=0.5)
    x = torch.randn(4, 16)
    assert head(x).shape == (4, 3)
    head.eval()
    assert torch.equal(head(x), head.fc(x))  # dropout off in eval mode


def test_reset_reinitialises_and_resizes():
    torch.manual_seed(0)
    head = ClassificationHead(8, 2)
    before = head.fc.weight.detach().clone()
    head.reset()
    assert head.fc.weight.shape == before.shape
    assert not torch.equal(head.fc.weight, before)
    head.reset(num_outputs=5)
    assert head.num_outputs == 5
    assert head(torch.randn(3, 8)).shape == (3, 5)


def test_set_linear_copies_a_fitted_probe():
    head = ClassificationHead(4, 2)
    w, b = torch.arange(8.0).reshape(2, 4), torch.tensor([1.0, -1.0])
    head.set_linear(w, b)
    x = torch.ones(1, 4)
    assert torch.allclose(head.eval()(x), torch.tensor([[7.0, 21.0]]))
    with pytest.raises(ValueError, match="do not match"):
        head.set_linear(torch.zeros(3, 4), torch.zeros(3))


@pytest.mark.parametrize("bad", [dict(num_features=0, num_outputs=2), dict(num_features=4, num_outputs=2, dropout=1.0)])
def test_classification_head_rejects_bad_sizes(bad):
    with pytest.raises(ValueError):
        ClassificationHead(**bad)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_segmentation_head_is_pointwise(spatial_dims):
    head = SegmentationHead(6, 3, spatial_dims)
    x = torch.randn(2, 6, *([5] * spatial_dims))
    out = head(x)
    assert out.shape == (2, 3, *([5] * spatial_dims))
    # a 1x1 convolution: each voxel's logits depend only on that voxel's features
    x2 = x.clone()
    x2[..., 0] += 10.0
    assert torch.allclose(head(x2)[..., 1:], out[..., 1:])
    head.reset(num_outputs=4)
    assert head(x).shape[1] == 4
