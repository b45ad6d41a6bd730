import pytest
import torch

from medtl.errors import ConfigError
from medtl.models import MedtlModel, ModelConfig, build_model, list_encoders


def _cfg(task="classification", spatial_dims=2, **kw):
    base = dict(task=task, encoder="tiny", weights="none", spatial_dims=spatial_dims, in_channels=1,
                num_classes=3, decoder_channels=(16, 8, 8, 4))
    return ModelConfig(**{**base, **kw})


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_classification_shapes(spatial_dims):
    model = build_model(_cfg(spatial_dims=spatial_dims, in_channels=2))
    x = torch.randn(2, 2, *([24] * spatial_dims))
    assert isinstance(model, MedtlModel) and model.task == "classification" and model.decoder is None
    assert model(x).shape == (2, 3)
    assert model.forward_pooled(x).shape == (2, model.encoder.num_features)
    assert torch.allclose(model.forward_head(model.forward_pooled(x)), model(x))


@pytest.mark.parametrize("spatial_dims,size", [(2, (32, 32)), (2, (45, 31)), (3, (20, 13, 16))])
def test_segmentation_output_at_input_resolution(spatial_dims, size):
    model = build_model(_cfg("segmentation", spatial_dims))
    out = model(torch.randn(1, 1, *size))
    assert out.shape == (1, 3, *size)


def test_param_groups_cover_every_parameter_once_in_order():
    for task in ("classification", "segmentation"):
        model = build_model(_cfg(task))
        groups = model.param_groups()
        names = [n for n, _ in groups]
        assert names[:-1] == [n for n, _ in model.encoder.param_groups()] and names[-1] == "head"
        assert len(names) == len(set(names))
        ids = [id(p) for _, ps in groups for p in ps]
        assert len(ids) == len(set(ids)) == len(list(model.parameters()))


def test_add_head_keeps_old_head_outputs():
    torch.manual_seed(0)
    model = build_model(_cfg()).eval()
    x = torch.randn(3, 1, 32, 32)
    before = model(x)
    new = model.add_head("task2", 5)
    assert model.active_head == "task2" and model(x).shape == (3, 5)
    assert model.param_groups()[-1][1] == list(new.parameters())  # only the new head trains as "head"
    model.set_active_head("main")
    assert torch.equal(model(x), before)
    assert model.head_outputs() == {"main": 3, "task2": 5}
    with pytest.raises(ValueError, match="already exists"):
        model.add_head("task2", 2)
    with pytest.raises(ValueError, match="no head"):
        model.set_active_head("nope")


def test_add_head_segmentation():
    torch.manual_seed(0)
    model = build_model(_cfg("segmentation")).eval()
    x = torch.randn(1, 1, 32, 32)
    before = model(x)
    model.add_head("organs", 4)
    assert model(x).shape == (1, 4, 32, 32)
    model.set_active_head("main")
    assert torch.equal(model(x), before)


def test_model_config_round_trip_and_validation():
    cfg = _cfg("segmentation", 3, dropout=0.1)
    d = cfg.to_dict()
    assert d["decoder_channels"] == [16, 8, 8, 4]
    assert ModelConfig.from_dict(d) == cfg
    with pytest.raises(ConfigError, match="unknown model config keys: colour"):
        ModelConfig.from_dict({**d, "colour": 1})
    with pytest.raises(ConfigError, match="incomplete"):
        ModelConfig.from_dict({k: v for k, v in d.items() if k != "encoder"})
    with pytest.raises(ConfigError, match="task"):
        _cfg(task="detection")
    with pytest.raises(ConfigError, match="spatial_dims"):
        _cfg(spatial_dims=4)
    with pytest.raises(ConfigError, match="bad model config value"):
        _cfg(num_classes="three")
    with pytest.raises(ConfigError, match="decoder_channels"):
        _cfg(decoder_channels=(8, 0))
    assert _cfg(num_classes="4", spatial_dims="3").num_classes == 4


def test_unknown_encoder_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown encoder"):
        build_model(_cfg(encoder="no-such-net"))


def _needs(name):
    if name not in list_encoders():
        pytest.skip(f"encoder {name} is not registered in this build")


def test_efficientnet_lite0_2d_small():
    _needs("efficientnet-lite0")
    for task, expected in (("classification", (1, 2)), ("segmentation", (1, 2, 40, 36))):
        model = build_model(ModelConfig(task=task, encoder="efficientnet-lite0", weights="none", spatial_dims=2,
                                        in_channels=1, num_classes=2)).eval()
        with torch.no_grad():
            assert model(torch.randn(1, 1, 40, 36)).shape == expected
        names = [n for n, _ in model.param_groups()]
        assert len(names) == len(set(names)) and names[-1] == "head"


def test_resnet18_3d_small():
    _needs("resnet18")
    for task, expected in (("classification", (1, 2)), ("segmentation", (1, 2, 32, 32, 20))):
        model = build_model(ModelConfig(task=task, encoder="resnet18", weights="none", spatial_dims=3,
                                        in_channels=1, num_classes=2, decoder_channels=(32, 16, 8, 8, 8))).eval()
        with torch.no_grad():
            assert model(torch.randn(1, 1, 32, 32, 20)).shape == expected


def test_segmentation_model_learns_a_synthetic_mask():
    """The decoder's skips carry fine detail: a tiny model learns to outline bright squares."""
    torch.manual_seed(0)
    x = torch.zeros(8, 1, 32, 32)
    for i in range(8):
        r, c = 4 + 2 * i, 20 - 2 * i
        x[i, 0, r:r + 8, c:c + 6] = 1.0
    y = (x[:, 0] > 0.5).long()
    x = x + 0.1 * torch.randn_like(x)
    model = build_model(_cfg("segmentation", num_classes=2, decoder_channels=(16, 16, 8, 8)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(25):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(x).argmax(1)
    dice = 2 * (pred * y).sum() / (pred.sum() + y.sum())
    assert dice > 0.9, float(dice)
