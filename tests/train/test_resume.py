"""A run interrupted after epoch 1 and resumed ends bit-identical to an uninterrupted run."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from medtl.errors import ConfigError
from medtl.train import train

from .helpers import tiny_config


class Crash(RuntimeError):
    pass


def _crash_after(epoch_to_die: int):
    def hook(epoch: int, row: dict) -> None:
        if epoch == epoch_to_die:
            raise Crash(f"simulated crash after epoch {epoch}")

    return hook


def test_resume_gives_the_same_weights(npz_2d, tmp_path):
    extra = ("finetune.lp_init=false", "optim.schedule=onecycle", "data.balance=sampler")
    full = train(tiny_config(npz_2d, tmp_path / "full", strategy="finetune", extra=extra))
    cfg = tiny_config(npz_2d, tmp_path / "crash", strategy="finetune", extra=extra)
    with pytest.raises(Crash):
        train(cfg, on_epoch_end=_crash_after(1))
    assert not (tmp_path / "crash" / "model.json").exists()
    log = tmp_path / "crash" / "train_log.jsonl"
    with open(log, "a") as fh:  # as if it crashed after logging epoch 2 but before its checkpoint
        fh.write('{"epoch": 2, "bogus": true}\n{"epoch": 3, "trunc')
    with pytest.raises(ConfigError):  # refuses to overwrite a run without --resume
        train(tiny_config(npz_2d, tmp_path / "crash", strategy="finetune", extra=extra))
    resumed = train(tiny_config(npz_2d, tmp_path / "crash", strategy="finetune", extra=(*extra, "resume=true")))
    a = load_file(str(full.run_dir / "model.safetensors"))
    b = load_file(str(resumed.run_dir / "model.safetensors"))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    ma, mb = full.metrics, resumed.metrics
    assert ma["test"] == mb["test"] and ma["epochs"] == mb["epochs"] == 3 and ma["best_epoch"] == mb["best_epoch"]
    rows = [json.loads(line) for line in (tmp_path / "crash" / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3] and not any("bogus" in r for r in rows)


def test_resume_of_a_finished_run_does_not_train_again(npz_2d, tmp_path):
    first = train(tiny_config(npz_2d, tmp_path / "r", epochs=2))
    again = train(tiny_config(npz_2d, tmp_path / "r", epochs=2, extra=("resume=true",)))
    assert again.metrics["test"] == first.metrics["test"] and again.metrics["epochs"] == 2
