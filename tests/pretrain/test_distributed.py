"""`medtl pretrain` under torchrun: two CPU processes (gloo) write one pretraining directory."""

from __future__ import annotations

import json
import os


def test_torchrun_two_processes_gloo(npz_unlabelled, tmp_path, torchrun):
    out = tmp_path / "ddp"
    cmd = ["-m", "medtl.cli.main", "pretrain", "--data", str(npz_unlabelled), "--out", str(out), "--encoder",
           "tiny", "--epochs", "2", "--image-size", "32", "--device", "cpu", "--quiet", "--set", "batch_size=4",
           "--set", "ssl.val_fraction=0.25"]
    env = dict(os.environ, MEDTL_DEBUG="1", PYTHONPATH=os.getcwd())
    proc = torchrun(cmd, cwd=tmp_path, env=env, timeout=140, fresh=[out])
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]  # one writer
    info = json.loads((out / "model.json").read_text())
    assert info["pretraining"]["n_scans"] == 16
    summaries = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1  # rank 0 reports
