"""``medtl compare`` end to end on a tiny task: runs, resume, budget, kill -9, the report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from medtl.compare import CompareConfig, compare
from medtl.errors import ConfigError

from .conftest import TINY


def _cfg(data, out, **kw) -> CompareConfig:
    base = dict(data=str(data), out=str(out), arms=["scratch"], fractions=[0.5, 1.0], seeds=[0, 1],
                overrides=list(TINY), bootstrap=200, quiet=True)
    return CompareConfig(**{**base, **kw})


def _counts(run_dir) -> dict:
    return json.loads((run_dir / "model.json").read_text())["training"]["data"]["counts"]


def test_compare_runs_every_arm_and_writes_the_report(blobs_npz, source_run, tmp_path):
    out = tmp_path / "cmp"
    logs = []
    arms = ["scratch", f"pretrained:{source_run}"]
    res = compare(_cfg(blobs_npz, out, arms=arms, seeds=[3]), log=logs.append)
    assert len(res.rows) == 4 and not res.skipped
    names = {r["arm"] for r in res.rows}
    assert names == {"scratch", "pretrained-run"}
    for r in res.rows:
        counts = _counts(out / "runs" / r["arm"] / f"{r['fraction']:g}" / f"seed{r['seed']}")
        assert counts["train"] == (20 if r["fraction"] == 0.5 else 40)
        assert (counts["val"], counts["test"]) == (12, 16)  # val/test never touched by the fractions
        assert r["seed"] == 3 and r["command"].startswith("medtl train ") and f"data.label_fraction={r['fraction']:g}" in r["command"]
    results = json.loads((out / "results.json").read_text())
    assert len(results["runs"]) == 4 and results["metric"] == "auc"
    pairs = results["analysis"]["pairs"]
    assert {p["fraction"] for p in pairs} == {0.5, 1.0} and all(p["n_seeds"] == 1 and p["n_cases"] == 16 for p in pairs)
    assert results["analysis"]["recommendation"]["arm"] in names
    md = (out / "report.md").read_text()
    assert "## Recommendation" in md and "![test auc vs labelled cases](label_efficiency.png)" in md
    assert "not separable" in md or "better" in md
    assert "medtl train " in md and "medtl compare " in md
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "<table>" in html and "label_efficiency.png" not in html
    assert (out / "label_efficiency.png").stat().st_size > 1000

    for r in res.rows:  # when each run trained and how busy the machine was, kept beside the run
        assert r["started_utc"] <= r["finished_utc"] and r["started_utc"].endswith(" UTC")
        assert r["time_to_model_s"] >= r["wall_time_s"] > 0 and r["resumed"] is False
        assert ("load_avg_1m_start" in r) and ("load_avg_1m_end" in r)
    assert [r["started_utc"] for r in results["runs"]] == [r["started_utc"] for r in res.rows]

    # --resume reruns nothing that finished
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/*/metrics.json")}
    assert len(stamps) == 4
    logs.clear()
    again = compare(_cfg(blobs_npz, out, arms=arms, seeds=[3], resume=True), log=logs.append)
    assert len(again.rows) == 4 and sum("finished earlier, kept" in m for m in logs) == 4
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert [r["started_utc"] for r in again.rows] == [r["started_utc"] for r in res.rows]  # the stamps of then
    with pytest.raises(ConfigError, match="--resume"):
        compare(_cfg(blobs_npz, out))


def test_an_arm_limited_to_one_seed_runs_once(blobs_npz, tmp_path):
    out = tmp_path / "cmp"
    res = compare(_cfg(blobs_npz, out, arms=["scratch", "once=scratch:seeds=1"], fractions=[1.0], seeds=[0, 1],
                       plots=False))
    assert sorted((r["arm"], r["seed"]) for r in res.rows) == [("once", 0), ("scratch", 0), ("scratch", 1)]
    assert not res.skipped and not (out / "runs" / "once" / "1" / "seed1").exists()
    assert {s["arm"]: s["n"] for s in res.analysis["summary"]} == {"scratch": 2, "once": 1}
    assert all("seeds=1" not in r["command"] for r in res.rows)  # not a training setting
    md = (out / "report.md").read_text()
    assert "3 of 3 runs" in md and "fewer seeds by the arm's seeds=N: once 1" in md
    assert "## Runs not in this report" not in md
    pair = res.analysis["pairs"][0]
    assert pair["n_seeds"] == 1  # paired on the seed both ran


def test_budget_stops_cleanly_and_says_what_was_skipped(blobs_npz, tmp_path):
    out = tmp_path / "cmp"
    logs = []
    res = compare(_cfg(blobs_npz, out, seeds=[0], budget_minutes=0.001, plots=False), log=logs.append)
    assert len(res.rows) == 1 and len(res.skipped) == 1  # the first run always starts; nothing else fits
    assert res.skipped[0]["reason"] == "budget" and res.skipped[0]["fraction"] == 1.0
    assert any("skipped (budget" in m for m in logs)
    md = (out / "report.md").read_text()
    assert "## Runs not in this report" in md and "--budget-minutes" in md and "(no plot" in md
    assert not (out / "label_efficiency.png").exists()
    # --report-only trains nothing and says so
    again = compare(_cfg(blobs_npz, out, seeds=[0], report_only=True, plots=False), log=logs.append)
    assert len(again.rows) == 1 and again.skipped[0]["reason"] == "report-only"
    assert "1 not trained (--report-only)" in (out / "report.md").read_text()
    # a later --resume without a budget adds the skipped run and keeps the finished one
    first = next(out.glob("runs/scratch/0.5/seed0/metrics.json")).stat().st_mtime_ns
    more = compare(_cfg(blobs_npz, out, seeds=[0], resume=True), log=logs.append)
    assert len(more.rows) == 2 and not more.skipped
    assert next(out.glob("runs/scratch/0.5/seed0/metrics.json")).stat().st_mtime_ns == first


def test_kill_9_mid_compare_then_resume_reruns_nothing_finished(blobs_npz, tmp_path):
    out = tmp_path / "cmp"
    cmd = [sys.executable, "-m", "medtl.cli.main", "compare", "--data", str(blobs_npz), "--out", str(out),
           "--arms", "scratch", "--fractions", "0.5,1", "--seeds", "1", "--bootstrap", "200", "--quiet",
           *[a for o in TINY for a in ("--set", o)]]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first, second = out / "runs" / "scratch" / "0.5" / "seed0", out / "runs" / "scratch" / "1" / "seed0"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and not second.exists():
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail("the comparison ended before it could be killed")
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert (first / "metrics.json").is_file() and not (second / "metrics.json").exists()
    stamp = (first / "metrics.json").stat().st_mtime_ns
    again = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "finished earlier, kept" in again.stderr and "report:" in again.stdout
    assert (first / "metrics.json").stat().st_mtime_ns == stamp
    assert (second / "metrics.json").is_file()
    assert len(json.loads((out / "results.json").read_text())["runs"]) == 2
