"""DDP with gloo: two CPU processes under torchrun train one model and write one model directory."""

from __future__ import annotations

import json
import os

from medtl.models import load_model_dir

from .helpers import check_run_dir


def test_torchrun_two_processes_gloo(npz_2d, tmp_path, torchrun):
    out = tmp_path / "ddp"
    cmd = ["-m", "medtl.cli.main", "train", "--data", str(npz_2d), "--out", str(out), "--strategy", "scratch",
           "--encoder", "tiny", "--weights", "none", "--epochs", "4", "--image-size", "32", "--device", "cpu",
           "--quiet", "--set", "optim.lr=0.01", "--set", "batch_size=8", "--set", "patience=0"]
    proc = torchrun(cmd, cwd=tmp_path, env=dict(os.environ, MEDTL_DEBUG="1"), timeout=140, fresh=[out])
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = check_run_dir(out, task="classification")
    assert metrics["epochs"] == 4 and metrics["test"]["auc"] > 0.6
    rows = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]  # one writer: no duplicated lines
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no stray temp files
    assert load_model_dir(out).task == "classification"
    summaries = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1 and json.loads(summaries[0])["test"] == metrics["test"]  # rank 0 reports
