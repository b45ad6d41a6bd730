"""Per-epoch checkpoints: atomic, weights_only-loadable, consistent after a crash between writes."""

from __future__ import annotations

import pytest
import torch

from medtl.errors import ModelDirError
from medtl.train import checkpoint as ckpt


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2))


def _state(epoch: int, model) -> ckpt.TrainState:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    return ckpt.TrainState(epoch=epoch, best_metric=0.7, best_epoch=1, bad_epochs=0,
                           history=[{"epoch": 1, "val_auc": 0.7}], optimizer=opt.state_dict())


def test_round_trip_restores_weights_state_and_rng(tmp_path):
    a = _model(0)
    ckpt.save_checkpoint(tmp_path, a, _state(1, a))
    expected_draw = torch.rand(3)  # the RNG continues from the saved state
    payload = torch.load(tmp_path / ckpt.STATE, weights_only=True)  # plain data only
    assert payload["epoch"] == 1
    b = _model(1)
    state = ckpt.load_checkpoint(tmp_path, b)
    assert state.epoch == 1 and state.history == [{"epoch": 1, "val_auc": 0.7}]
    assert torch.equal(torch.rand(3), expected_draw)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    opt = torch.optim.AdamW(b.parameters(), lr=1e-3)
    opt.load_state_dict(state.optimizer)


def test_crash_between_writes_falls_back_to_matching_epoch(tmp_path):
    a = _model(0)
    ckpt.save_checkpoint(tmp_path, a, _state(1, a))
    epoch1 = {k: v.clone() for k, v in a.state_dict().items()}
    with torch.no_grad():
        a[0].weight.add_(1.0)
    # simulate a crash after the epoch-2 weights were written but before the state file
    (tmp_path / ckpt.WEIGHTS).replace(tmp_path / ckpt.PREV)
    ckpt.save_weights(tmp_path / ckpt.WEIGHTS, a, {"epoch": "2"})
    b = _model(1)
    assert ckpt.load_checkpoint(tmp_path, b).epoch == 1
    assert torch.equal(b.state_dict()["0.weight"], epoch1["0.weight"])


def test_no_checkpoint_and_mismatch(tmp_path):
    assert ckpt.load_checkpoint(tmp_path, _model(0)) is None
    a = _model(0)
    ckpt.save_checkpoint(tmp_path, a, _state(1, a))
    with pytest.raises(ModelDirError):
        ckpt.load_checkpoint(tmp_path, torch.nn.Linear(4, 2))
    (tmp_path / ckpt.STATE).write_bytes(b"not a torch file")
    with pytest.raises(ModelDirError):
        ckpt.load_checkpoint(tmp_path, _model(0))
