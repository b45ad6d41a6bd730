"""Smoke test of bench/bench_continual.py (issue #7) on tiny synthetic MedMNIST-shaped data.

Runs the forgetting benchmark's real path (task A with medtl.train, task B alone, and task B with
``init_from`` + each ``continual.method``), its table/PNG writer, and the active-learning loop, with
the tiny encoder at 32 px for one epoch; the numbers mean nothing, the wiring does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

# Same synthetic MedMNIST-shaped data as the other bench smoke tests.
from .test_bench_smoke import _npz  # noqa: E402

TINY = ["--encoder", "tiny", "--weights", "none", "--image-size", "32", "--epochs", "1", "--device", "cpu"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("cl_data")
    return {"breast": _npz(root / "breastmnist.npz", (28, 28), 2, (40, 12, 16)),
            "retina": _npz(root / "retinamnist.npz", (28, 28, 3), 5, (50, 15, 20))}


def test_forgetting_runs_medtl_train_with_init_from(data, tmp_path):
    import bench_continual

    out, docs = tmp_path / "out", tmp_path / "docs"
    argv = ["forgetting", "--out", str(out), "--docs", str(docs), "--breast", str(data["breast"]),
            "--retina", str(data["retina"]), "--seeds", "0", "--epochs-b", "1", "--b-train-size", "25",
            "--ewc-batches", "1", "--rehearsal-size", "6", "--methods", "none", "ewc@5", "rehearsal", *TINY]
    assert bench_continual.main(argv) == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["run"] for r in rows] == ["B alone (ImageNet init)", "none", "ewc@5", "rehearsal"]
    parent = json.loads((out / "seed0" / "task_a" / "metrics.json").read_text())["test"]["auc"]
    for r in rows[1:]:
        lineage = json.loads((Path(r["run_dir"]) / "model.json").read_text())["lineage"][-1]
        assert lineage["method"] == r["method"] and lineage["parent_path"] == str((out / "seed0" / "task_a").resolve())
        assert r["task_a_before"] == pytest.approx(parent) and 0.0 <= r["task_a_after"] <= 1.0
        metrics = json.loads((Path(r["run_dir"]) / "metrics.json").read_text())
        assert r["task_b"] == metrics["test"]["auc"] and r["best_epoch"] == metrics["best_epoch"]
    assert rows[2]["alpha"] == 5.0 and (Path(rows[2]["run_dir"]) / "continual.safetensors").is_file()
    assert (Path(rows[3]["run_dir"]) / "rehearsal.json").is_file()
    assert rows[0]["task_a_after"] is None  # B alone: a plain run, no parent
    assert not json.loads((Path(rows[0]["run_dir"]) / "model.json").read_text()).get("lineage")
    with np.load(next((out / "seed0").glob("retina_train25_s0.npz"))) as z:
        assert len(z["train_labels"]) == 25 and set(z["train_labels"].ravel()) == set(range(5))
    text = (docs / "continual_forgetting.md").read_text()
    assert "| ewc@5 |" in text and "--init-from" in text and "load average" in text
    assert (docs / "continual_forgetting.png").stat().st_size > 1000


def test_forgetting_table_averages_seeds():
    from bench_continual import forgetting_table

    rows = [{"seed": s, "run": "B alone", "method": None, "task_a_before": None, "task_a_after": None,
             "task_b": 0.70 + 0.02 * s, "train_s": 1.0} for s in (0, 1)]
    rows += [{"seed": s, "run": "ewc", "method": "ewc", "task_a_before": 0.80, "task_a_after": 0.79 - 0.02 * s,
              "task_b": 0.70, "train_s": 2.0} for s in (0, 1)]
    alone, ewc = forgetting_table(rows)
    assert alone["run"] == "B alone" and alone["met"] == "" and alone["gap"] == pytest.approx([0.0, 0.0])
    assert ewc["change"] == pytest.approx([-1.0, -3.0]) and ewc["gap"] == pytest.approx([0.0, -2.0])
    assert ewc["met"] == "1/2"  # seed 1 loses 3 points on task A


def test_active_learning_continues_with_init_from(data, tmp_path):
    import bench_continual

    out = tmp_path / "out"
    argv = ["active", "--out", str(out), "--docs", str(tmp_path / "docs"), "--breast", str(data["breast"]),
            "--seeds", "0", "--initial-fraction", "0.5", "--budget", "6", *TINY]
    assert bench_continual.main(argv) == 0
    row = json.loads((out / "results.json").read_text())["rows"][0]
    assert row["n_initial"] == 20 and {"uncertainty_auc", "random_auc"} <= row.keys()
    child = json.loads((out / "seed0" / "uncertainty" / "model.json").read_text())
    assert child["lineage"][-1]["parent_path"] == str((out / "seed0" / "base").resolve())
    assert (tmp_path / "docs" / "active_learning.md").is_file()


def test_active_segmentation_picks_reveals_and_continues(tmp_path):
    """``active-seg`` end to end on 20 synthetic volumes (14 train / 2 val / 4 test): 4 labelled, 10 in the
    pool, K = 3 per strategy; a --merge rerun of one strategy reuses its runs and keeps the others' rows."""
    import bench_continual
    import nibabel as nib
    import yaml
    from manifests import read_split_rows

    from medtl.continual.select import read_predictions

    from .test_bench_smoke import _hippo

    data = _hippo(tmp_path / "msd_hippocampus", 20, seed=2)
    work, docs = tmp_path / "work", tmp_path / "docs"
    argv = ["active-seg", "--data", str(data), "--work", str(work), "--docs", str(docs), "--seeds", "0",
            "--base-fraction", "0.3", "--k", "3", "--min-samples-per-epoch", "8", "--encoder", "tiny",
            "--image-size", "32", "--epochs", "1", "--device", "cpu"]
    assert bench_continual.main(argv) == 0
    runs = json.loads((docs / "active_learning_segmentation.json").read_text())["runs"]
    assert [r["strategy"] for r in runs] == ["uncertainty", "flags-first", "random"]
    seed0 = work / "seed0"
    name = lambda row: Path(row["image"]).name.split(".")[0]  # noqa: E731
    base = {name(r) for r in read_split_rows(seed0 / "base.csv", "train")}
    preds = read_predictions(seed0 / "scores")
    assert len(base) == 4 and len(preds) == 10 and {p["case_id"] for p in preds}.isdisjoint(base)
    pool = sorted((seed0 / "pool").iterdir())  # the pool is scored from its images alone
    assert [p.name.split(".")[0] for p in pool] == sorted(p["case_id"] for p in preds)
    assert all(p.read_bytes() == (data / "images" / p.name).read_bytes() for p in pool)
    assert runs[0]["picked"] == [p["case_id"] for p in sorted(preds, key=lambda p: -p["uncertainty"])][:3]
    assert runs[2]["picked"] != runs[0]["picked"] and len(set(runs[2]["picked"])) == 3
    base_dir = Path(runs[0]["base_run_dir"])
    assert yaml.safe_load((base_dir / "config.yaml").read_text())["data"]["min_samples_per_epoch"] == 8

    def dice(case: str) -> float:  # mean foreground Dice of the base model's scored mask, computed here
        p = np.asarray(nib.load(seed0 / "scores" / "masks" / f"{case}.nii.gz").dataobj).squeeze()
        t = np.asarray(nib.load(data / "labels" / f"{case}.nii.gz").dataobj)
        return float(np.mean([2 * ((p == c) & (t == c)).sum() / max(1, (p == c).sum() + (t == c).sum()) for c in (1, 2)]))

    for r in runs:
        train = {name(x) for x in read_split_rows(seed0 / f"{r['strategy']}.csv", "train")}
        assert train == base | set(r["picked"]) and len(train) == 7  # base + the revealed K
        assert len(read_split_rows(seed0 / f"{r['strategy']}.csv", "test")) == 4
        child = json.loads((Path(r["run_dir"]) / "model.json").read_text())
        assert child["lineage"][-1]["parent_path"] == str(base_dir.resolve())
        test = json.loads((Path(r["run_dir"]) / "metrics.json").read_text())["test"]
        assert r["dice"] == test["dice"] and r["gain"] == pytest.approx(test["dice"] - r["base_dice"])
        assert r["picked_true_dice"] == pytest.approx(np.mean([dice(c) for c in r["picked"]]))
        assert r["pool_true_dice"] == pytest.approx(np.mean([dice(p["case_id"]) for p in preds]))
        assert 0 <= r["picked_in_worst_k"] <= 3 and r["select_command"].startswith("medtl select --scores")
    page = (docs / "active_learning_segmentation.md").read_text()
    assert all(f"| 0 | {s} |" in page for s in ("uncertainty", "flags-first", "random"))
    assert "--set init_from=" in page and "medtl score --model" in page and "Machine:" in page

    random_dir = Path(runs[2]["run_dir"])
    stamp = (random_dir / "metrics.json").stat().st_mtime_ns
    assert bench_continual.main([*argv, "--strategies", "random", "--merge"]) == 0
    again = json.loads((docs / "active_learning_segmentation.json").read_text())["runs"]
    assert [r["strategy"] for r in again] == ["uncertainty", "flags-first", "random"] and again[2] == runs[2]
    assert (random_dir / "metrics.json").stat().st_mtime_ns == stamp  # reused, not retrained
