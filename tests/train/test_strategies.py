"""Freezing is real: frozen parameters are not in the optimizer and stay bit-identical."""

from __future__ import annotations

import pytest
import torch

from medtl.models import ModelConfig, build_model
from medtl.train.config import load_config
from medtl.train.strategies import (
    apply_plan,
    head_parameters,
    make_plan,
    optimizer_groups,
    set_bn_momentum,
    set_train_mode,
)


def _model(task="classification", dims=2):
    torch.manual_seed(0)
    return build_model(ModelConfig(task=task, encoder="tiny", weights="none", spatial_dims=dims, in_channels=1,
                                   num_classes=2))


def _steps(model, plan, epoch=0, n=3, task="classification"):
    apply_plan(model, plan, epoch)
    set_train_mode(model, plan)
    opt = torch.optim.AdamW(optimizer_groups(model, plan, 0.01))
    for i in range(n):
        x = torch.randn(4, 1, 32, 32) + i
        out = model(x)
        loss = out.square().mean() if task == "segmentation" else torch.nn.functional.cross_entropy(
            out, torch.tensor([0, 1, 0, 1]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return opt


def _snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _in_optimizer(opt):
    return {id(p) for g in opt.param_groups for p in g["params"]}


def test_finetune_top_group_only_keeps_the_rest_identical():
    model = _model()
    cfg = load_config(overrides=["finetune.unfreeze_groups=1", "finetune.freeze_bn=true"])
    groups = model.encoder.param_groups()
    plan = make_plan(cfg, len(groups))
    before = _snapshot(model)
    opt = _steps(model, plan)
    after = model.state_dict()
    in_opt = _in_optimizer(opt)
    for _name, params in groups[:-1]:
        for p in params:
            assert not p.requires_grad and id(p) not in in_opt
    frozen = [k for k in before if k.startswith("encoder.") and "stages.3" not in k]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)  # incl. BN running stats
    top = [k for k in before if "stages.3" in k and k.endswith("conv.weight")]
    assert top and not torch.equal(before[top[0]], after[top[0]])
    bn_stats = [k for k in before if "stages.3" in k and "running_mean" in k]
    assert bn_stats and all(torch.equal(before[k], after[k]) for k in bn_stats)  # freeze_bn
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("heads."))


def test_bn_stats_update_without_freeze_bn():
    model = _model()
    plan = make_plan(load_config(overrides=["finetune.freeze_bn=false"]), len(model.encoder.param_groups()))
    before = _snapshot(model)
    _steps(model, plan)
    stats = [k for k in before if "running_mean" in k]
    assert all(not torch.equal(before[k], model.state_dict()[k]) for k in stats)


def test_linear_probe_segmentation_trains_only_the_decoder():
    model = _model("segmentation")
    plan = make_plan(load_config(overrides=["strategy=linear-probe"]), len(model.encoder.param_groups()))
    before = _snapshot(model)
    opt = _steps(model, plan, task="segmentation")
    assert not model.encoder.training and model.decoder.training
    assert _in_optimizer(opt) == {id(p) for p in head_parameters(model)}
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("encoder."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))


def test_layer_decay_and_gradual_unfreezing():
    model = _model()
    n = len(model.encoder.param_groups())
    cfg = load_config(overrides=["optim.encoder_lr=1.0", "optim.layer_decay=0.5", "optim.lr=3.0",
                                 "finetune.gradual_every=2"])
    plan = make_plan(cfg, n)
    lrs = {g["name"]: g["lr"] for g in optimizer_groups(model, plan, 0.0)}
    names = [name for name, _ in model.encoder.param_groups()]
    assert lrs["head"] == 3.0 and lrs[names[-1]] == 1.0 and lrs[names[0]] == pytest.approx(0.5 ** (n - 1))
    assert plan.unfrozen_at(0) == [] and plan.unfrozen_at(2) == [n - 1] and plan.unfrozen_at(4) == [n - 2, n - 1]
    assert plan.unfrozen_at(100) == list(range(n))
    before = _snapshot(model)
    _steps(model, plan, epoch=0)  # head only: the whole encoder is unchanged, BN stats included
    assert all(torch.equal(before[k], model.state_dict()[k]) for k in before if k.startswith("encoder."))


def test_scratch_trains_everything():
    model = _model()
    plan = make_plan(load_config(overrides=["strategy=scratch"]), len(model.encoder.param_groups()))
    opt = _steps(model, plan, n=1)
    assert _in_optimizer(opt) == {id(p) for p in model.parameters()}


def test_bn_momentum_speeds_up_running_statistics():
    """With MONAI EfficientNet's 0.01 the statistics barely move in a short run; 0.1 tracks the data."""
    slow, fast = _model(), _model()
    for m in slow.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.01
    assert set_bn_momentum(fast, 0.1) == 4 and set_bn_momentum(fast, None) == 0
    x = torch.randn(8, 1, 32, 32) * 3 + 5
    for model in (slow, fast):
        model.train()
        with torch.no_grad():
            for _ in range(10):
                model(x)
    stem = "encoder.stages.0.adn.N.running_mean"
    key = stem if stem in fast.state_dict() else next(k for k in fast.state_dict() if k.endswith("running_mean"))
    assert fast.state_dict()[key].abs().mean() > 3 * slow.state_dict()[key].abs().mean()
