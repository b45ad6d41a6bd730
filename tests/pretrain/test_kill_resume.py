"""``medtl pretrain`` killed with SIGKILL mid-run and resumed ends with the same weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file


def _cmd(data, out, *extra):
    return [sys.executable, "-m", "medtl.cli.main", "pretrain", "--data", str(data), "--encoder", "tiny",
            "--epochs", "5", "--batch-size", "4", "--image-size", "16", "--out", str(out), "--quiet",
            "--set", "ssl.val_fraction=0.2", "--set", "ssl.local_shuffle_blocks=20", *extra]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}


def test_kill_9_then_resume_gives_the_same_weights(nifti_folder, tmp_path):
    full = subprocess.run(_cmd(nifti_folder, tmp_path / "full"), env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert full.returncode == 0, full.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(nifti_folder, out), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    log = out / "train_log.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if log.is_file() and log.read_text().count("\n") >= 2:
            break
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail("the run ended before it could be killed")
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert not (out / "model.json").exists()
    again = subprocess.run(_cmd(nifti_folder, out, "--resume"), env=_env(), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert "resuming after epoch" in again.stderr
    a = load_file(str(tmp_path / "full" / "model.safetensors"))
    b = load_file(str(out / "model.safetensors"))
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    ma = json.loads((tmp_path / "full" / "metrics.json").read_text())
    mb = json.loads((out / "metrics.json").read_text())
    assert ma["val"] == mb["val"] and ma["best_epoch"] == mb["best_epoch"] and mb["epochs"] == 5
    epochs = [json.loads(line)["epoch"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3, 4, 5]
