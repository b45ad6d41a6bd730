"""L2-SP and EWC: zero at the anchor, gradients pull back, Fisher ranks parameters, state round trip."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from medtl.continual.penalties import EWC, L2SP, estimate_fisher, load_penalty, save_penalty, snapshot
from medtl.errors import ConfigError, ModelDirError


class TwoPart(nn.Module):
    def __init__(self, n_out: int = 2):
        super().__init__()
        self.encoder = nn.Linear(4, 3)
        self.head = nn.Linear(3, n_out)

    def forward(self, x):
        return self.head(torch.relu(self.encoder(x)))


@pytest.fixture
def model():
    torch.manual_seed(0)
    return TwoPart()


def _perturb(model, scale=0.1):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))


@pytest.mark.parametrize("make", [lambda m: L2SP(m, alpha=1.0, beta=0.0),
                                  lambda m: EWC(m, {n: torch.ones_like(p) for n, p in m.named_parameters()})])
def test_zero_at_anchor_and_positive_after_drift(model, make):
    penalty = make(model)
    assert penalty(model).item() == 0.0
    _perturb(model)
    assert penalty(model).item() > 0.0


def test_l2sp_value_matches_formula(model):
    anchor = snapshot(model, prefixes=("encoder.",))
    penalty = L2SP(model, anchor, alpha=0.5, beta=0.25)
    _perturb(model)
    drift = sum(((p - anchor[n]) ** 2).sum() for n, p in model.named_parameters() if n.startswith("encoder."))
    new = sum((p ** 2).sum() for n, p in model.named_parameters() if n.startswith("head."))
    assert penalty(model).item() == pytest.approx((0.25 * drift + 0.125 * new).item(), rel=1e-5)


def test_gradient_points_back_toward_anchor(model):
    anchor = snapshot(model)
    cases = [(L2SP(model, anchor, alpha=1.0, beta=0.0), 1.0),
             (EWC(model, {n: torch.full_like(p, 2.0) for n, p in model.named_parameters()}, anchor, lam=1.5), 3.0)]
    for penalty, scale in cases:
        with torch.no_grad():
            for p, a in zip(model.parameters(), anchor.values()):
                p.copy_(a + 0.5 * torch.randn_like(a))
        # analytic gradient: scale * (theta - theta*), so a descent step shrinks the drift
        model.zero_grad()
        penalty(model).backward()
        for n, p in model.named_parameters():
            torch.testing.assert_close(p.grad, scale * (p.detach() - anchor[n]))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        drift = [sum(((p - anchor[n]) ** 2).sum() for n, p in model.named_parameters()).item()]
        for _ in range(5):
            opt.zero_grad()
            penalty(model).backward()
            opt.step()
            drift.append(sum(((p - anchor[n]) ** 2).sum() for n, p in model.named_parameters()).item())
        assert all(b < a for a, b in zip(drift, drift[1:]))
        assert drift[-1] < 0.6 * drift[0]


def test_l2sp_new_head_with_other_shape_gets_plain_l2(model):
    anchor = snapshot(model)
    torch.manual_seed(1)
    child = TwoPart(n_out=5)  # new task: the head changes shape
    child.encoder.load_state_dict(model.encoder.state_dict())
    penalty = L2SP(child, anchor, alpha=10.0, beta=1.0)
    expected = 0.5 * sum((p ** 2).sum() for p in child.head.parameters())
    assert penalty(child).item() == pytest.approx(expected.item(), rel=1e-5)


def test_frozen_parameters_are_skipped(model):
    penalty = L2SP(model, alpha=1.0, beta=0.0)
    _perturb(model)
    model.encoder.requires_grad_(False)
    only_head = penalty(model).item()
    model.encoder.requires_grad_(True)
    assert 0 < only_head < penalty(model).item()


def test_negative_weights_rejected(model):
    with pytest.raises(ConfigError):
        L2SP(model, alpha=-1.0)
    with pytest.raises(ConfigError):
        EWC(model, {}, lam=-1.0)


def test_fisher_nonnegative_and_larger_where_parameters_matter():
    torch.manual_seed(0)
    # Feature 0 decides the label, feature 1 is always zero: its weight never affects the loss.
    x = torch.zeros(64, 2)
    x[:, 0] = torch.randn(64)
    y = (x[:, 0] > 0).long()
    model = nn.Linear(2, 2)
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    model.weight.grad = torch.ones_like(model.weight)  # a stale grad must survive estimation
    fisher = estimate_fisher(model, batches, nn.functional.cross_entropy, n_batches=3)
    assert set(fisher) == {"weight", "bias"}
    assert all((f >= 0).all() for f in fisher.values())
    assert (fisher["weight"][:, 0] > 1e-4).all()
    assert torch.equal(fisher["weight"][:, 1], torch.zeros(2))
    assert torch.equal(model.weight.grad, torch.ones_like(model.weight))
    # EWC with that Fisher ignores drift of the irrelevant weight and penalises the relevant one
    ewc = EWC(model, fisher, lam=1.0)
    with torch.no_grad():
        model.weight[:, 1] += 1.0
    assert ewc(model).item() == 0.0
    with torch.no_grad():
        model.weight[:, 0] += 1.0
    assert ewc(model).item() > 0.0


def test_fisher_from_dict_batches_keeps_mode():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model.train()
    stats = model[1].running_mean.clone()
    loader = [{"image": torch.randn(4, 3), "label": torch.tensor([0, 1, 0, 1])}]
    fisher = estimate_fisher(model, loader, nn.functional.cross_entropy)
    assert model.training and torch.equal(model[1].running_mean, stats)
    assert fisher["2.weight"].shape == (2, 4)
    with pytest.raises(ConfigError):
        estimate_fisher(model, [], nn.functional.cross_entropy)


@pytest.mark.parametrize("method", ["l2sp", "ewc"])
def test_state_round_trip_through_safetensors(tmp_path, model, method):
    if method == "l2sp":
        penalty = L2SP(model, alpha=0.3, beta=0.02, new_prefixes=("head.",))
    else:
        fisher = {n: torch.rand_like(p) for n, p in model.named_parameters()}
        penalty = EWC(model, fisher, lam=42.0)
    path = tmp_path / "run" / "continual.safetensors"
    save_penalty(path, penalty, extra={"parent_model_id": "abc"})
    _perturb(model)
    loaded = load_penalty(path, model)
    assert type(loaded) is type(penalty)
    assert loaded.hparams() == penalty.hparams()
    assert loaded.state_dict().keys() == penalty.state_dict().keys()
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in penalty.state_dict().items())
    assert loaded(model).item() == pytest.approx(penalty(model).item(), rel=1e-6)
    assert loaded(model).item() > 0


def test_load_penalty_errors(tmp_path, model):
    with pytest.raises(ModelDirError, match="not found"):
        load_penalty(tmp_path / "missing.safetensors", model)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 20)
    with pytest.raises(ModelDirError) as info:
        load_penalty(bad, model)
    assert str(bad) in str(info.value)
