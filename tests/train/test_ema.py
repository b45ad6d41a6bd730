"""Weight averaging (optim.ema_decay): the average is what is validated, selected, kept and resumed."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from medtl.errors import ConfigError
from medtl.train import train
from medtl.train.ema import make_ema

from .helpers import tiny_config
from .test_resume import Crash, _crash_after


def test_average_follows_the_warmed_up_decay():
    model = torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False), torch.nn.BatchNorm1d(1))
    with torch.no_grad():
        model[0].weight.fill_(0.0)
    ema = make_ema(model, 0.9)
    expected = 0.0
    for n, value in enumerate([1.0, 2.0, 3.0, 4.0, 5.0]):
        with torch.no_grad():
            model[0].weight.fill_(value)
        model[1].num_batches_tracked += 1
        ema.update_parameters(model)
        # the first update copies; then decay min(0.9, (1 + n) / (10 + n)) with n updates so far
        decay = 0.0 if n == 0 else min(0.9, (1 + n) / (10 + n))
        expected = decay * expected + (1 - decay) * value
        assert ema.module[0].weight.flatten().tolist() == pytest.approx([expected] * 2)
    assert int(ema.module[1].num_batches_tracked) == 5  # integer buffers are copied, not averaged
    assert 1.0 < expected < 5.0
    assert make_ema(model, 0.0) is None


@pytest.mark.parametrize("bad", ["1.0", "-0.1"])
def test_decay_out_of_range_is_refused(npz_2d, tmp_path, bad):
    with pytest.raises(ConfigError, match="ema_decay"):
        tiny_config(npz_2d, tmp_path / "r", extra=(f"optim.ema_decay={bad}",))


def test_kept_model_is_the_average_and_resume_is_exact(npz_2d, tmp_path):
    extra = ("optim.ema_decay=0.9",)
    full = train(tiny_config(npz_2d, tmp_path / "full", extra=extra))
    ckpt_dir = full.run_dir / "checkpoints"
    kept = load_file(str(full.run_dir / "model.safetensors"))
    average = load_file(str(ckpt_dir / "ema.safetensors"))
    last = load_file(str(ckpt_dir / "last.safetensors"))
    key = next(k for k in kept if k.startswith("encoder.") and kept[k].is_floating_point())
    assert not torch.equal(average[f"module.{key}"], last[key])  # the average is not the last weights
    if full.metrics["best_epoch"] == full.metrics["epochs"]:
        assert torch.equal(kept[key], average[f"module.{key}"])
    plain = train(tiny_config(npz_2d, tmp_path / "plain"))
    assert not (plain.run_dir / "checkpoints" / "ema.safetensors").exists()
    assert plain.metrics["val"] != full.metrics["val"]

    with pytest.raises(Crash):
        train(tiny_config(npz_2d, tmp_path / "crash", extra=extra), on_epoch_end=_crash_after(1))
    resumed = train(tiny_config(npz_2d, tmp_path / "crash", extra=(*extra, "resume=true")))
    b = load_file(str(resumed.run_dir / "model.safetensors"))
    assert all(torch.equal(kept[k], b[k]) for k in kept)
    assert resumed.metrics["test"] == full.metrics["test"]
