"""Durability: kill -9 the scorer at random points, resume each time; nothing lost or duplicated."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medtl.infer.score import score

from . import helpers

REPO = Path(__file__).resolve().parents[2]


def _cmd(model, inputs, out, *extra):
    return [sys.executable, "-m", "medtl.cli.main", "score", "--model", str(model), "--input", str(inputs),
            "--output", str(out), "--batch-size", "2", "--workers", "0", "--quiet", *extra]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _n_results(out: Path) -> int:
    folder = out / "results"
    return len(list(folder.glob("*.json"))) if folder.is_dir() else 0


@pytest.mark.slow
def test_kill9_at_random_points_then_resume_matches_uninterrupted_run(cls_model, tmp_path):
    n_cases = 200
    helpers.write_pngs(tmp_path / "in", n_cases)
    (tmp_path / "in" / "junk.png").write_text("not an image")
    ref = tmp_path / "ref"
    assert score(cls_model, [tmp_path / "in"], ref, batch_size=2, workers=0, quiet=True).exit_code == 1

    out, rng, kills, mid_run = tmp_path / "out", random.Random(1234), 0, 0
    for _ in range(10):
        if kills >= 5:
            break
        before = _n_results(out)
        proc = subprocess.Popen(_cmd(cls_model, tmp_path / "in", out, "--resume"), env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and _n_results(out) <= before and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.1))  # somewhere inside the scoring loop
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
            mid_run += before < _n_results(out) < n_cases + 1  # it had scored some, not all
        proc.wait(timeout=60)
    assert kills >= 5 and mid_run >= 3
    final = subprocess.run(_cmd(cls_model, tmp_path / "in", out, "--resume"), env=_env(), timeout=300)
    assert final.returncode == 1  # the junk file fails, every time, without stopping the run

    ref_rows = list(csv.DictReader(open(ref / "predictions.csv")))
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    assert len(rows) == n_cases + 1 == len({r["case_id"] for r in rows})
    assert rows == ref_rows
    assert (out / "errors.jsonl").read_text() == (ref / "errors.jsonl").read_text()
    m_ref, m = (json.loads((d / "run_manifest.json").read_text()) for d in (ref, out))
    assert m["cases"] == m_ref["cases"] and m["counts"]["total"] == n_cases + 1
    assert m["counts"]["skipped_resumed"] > 0
    for case_id in ("img_000", "img_077", f"img_{n_cases - 1:03d}"):
        for name in ("case.json", "preview.npz"):
            assert (out / "cases" / case_id / name).read_bytes() == (ref / "cases" / case_id / name).read_bytes()
    assert not list(out.rglob(".*.tmp"))  # interrupted atomic writes are cleaned up on resume
