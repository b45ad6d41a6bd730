"""Mixed precision through the real training loop. On CUDA, resolve_runtime turns autocast on (bf16
where supported, else fp16 with a GradScaler); torch runs both autocast dtypes and the GradScaler on
the CPU too, so these tests force each runtime and train a real model with it."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from safetensors.torch import load_file

import medtl.train.trainer as trainer
from medtl.train import train

from .helpers import check_run_dir, tiny_config
from .test_resume import Crash, _crash_after


@pytest.fixture
def amp_runtime(monkeypatch):
    """resolve_runtime as on a GPU, with the given autocast dtype (fp16 brings the GradScaler)."""
    seen = []

    def force(dtype):
        real = trainer.resolve_runtime

        def resolve(cfg, spatial_dims):
            rt = dataclasses.replace(real(cfg, spatial_dims), amp_dtype=dtype, use_scaler=dtype == torch.float16)
            seen.append(rt)
            return rt

        monkeypatch.setattr(trainer, "resolve_runtime", resolve)
        return seen

    return force


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_training_under_autocast_learns(npz_2d, tmp_path, amp_runtime, dtype):
    seen, conv_out = amp_runtime(dtype), set()

    def record(module, args, out):  # every convolution's output dtype during the run
        if isinstance(module, torch.nn.Conv2d) and torch.is_grad_enabled():
            conv_out.add(out.dtype)

    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        res = train(tiny_config(npz_2d, tmp_path / "amp", strategy="finetune", epochs=3,
                                extra=("finetune.lp_init=false",)))
    finally:
        handle.remove()
    assert seen and seen[0].amp_dtype == dtype
    assert conv_out == {dtype}  # the training forward passes ran in reduced precision
    metrics = check_run_dir(res.run_dir, task="classification")
    assert metrics["test"]["auc"] > 0.8  # the blob task is learnt in reduced precision too
    weights = load_file(str(res.run_dir / "model.safetensors"))
    floats = [t for t in weights.values() if t.is_floating_point()]  # (BatchNorm counters are int64)
    assert floats and all(t.dtype == torch.float32 and torch.isfinite(t).all() for t in floats)  # fp32 master weights
    state = torch.load(res.run_dir / "checkpoints" / "last_state.pt", weights_only=True)
    assert (state["scaler"] is not None) == (dtype == torch.float16)
    if state["scaler"] is not None:
        assert state["scaler"]["scale"] > 0


def test_fp16_run_resumes_with_its_grad_scaler(npz_2d, tmp_path, amp_runtime):
    amp_runtime(torch.float16)
    extra = ("finetune.lp_init=false",)
    full = train(tiny_config(npz_2d, tmp_path / "full", strategy="finetune", extra=extra))
    with pytest.raises(Crash):
        train(tiny_config(npz_2d, tmp_path / "crash", strategy="finetune", extra=extra), on_epoch_end=_crash_after(1))
    resumed = train(tiny_config(npz_2d, tmp_path / "crash", strategy="finetune", extra=(*extra, "resume=true")))
    a = load_file(str(full.run_dir / "model.safetensors"))
    b = load_file(str(resumed.run_dir / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)  # the scaler state came back with the optimizer's
    assert full.metrics["test"] == resumed.metrics["test"]
