"""Smoke test of every benchmark script on tiny synthetic datasets (tiny encoder, 1 epoch, 32 px).

It runs each script's real code path (data preparation, training through medtl compare, metrics,
result files, the README builder) so the scripts cannot rot; the numbers themselves mean nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

TINY = ["--encoder", "tiny", "--image-size", "32", "--epochs", "1", "--seeds", "0", "--device", "cpu"]


def _blobs(rng, n: int, shape: tuple[int, ...], classes: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images whose mean brightness encodes the class (learnable in one epoch)."""
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(n, *shape)).astype(np.float32)
    images += (labels * (180 / max(classes - 1, 1))).reshape(-1, *([1] * len(shape)))
    return images.clip(0, 255).astype(np.uint8), labels.reshape(-1, 1).astype(np.uint8)


def _npz(path: Path, shape: tuple[int, ...], classes: int, sizes=(40, 12, 16)) -> Path:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in zip(("train", "val", "test"), sizes):
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = _blobs(rng, n, shape, classes)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def _hippo(root: Path, n: int, seed: int = 1) -> Path:
    """MSD-Hippocampus-shaped folder (images/ + labels/ NIfTI, labels 1 and 2 in a bright box); the
    box moves a little from case to case, so a model gets some cases better than others."""
    import nibabel as nib

    rng = np.random.default_rng(seed)
    for sub in ("images", "labels"):
        (root / sub).mkdir(parents=True)
    for i in range(n):
        label = np.zeros((20, 24, 18), np.uint8)
        z = int(rng.integers(4, 9))
        label[z:z + 4, 8:16, 6:12], label[z + 4:z + 8, 8:16, 6:12] = 1, 2
        image = (rng.normal(0, 5, label.shape) + 40 * (label > 0)).astype(np.float32)
        nib.save(nib.Nifti1Image(image, np.eye(4)), root / "images" / f"hippocampus_{i:03d}.nii.gz")
        nib.save(nib.Nifti1Image(label, np.eye(4)), root / "labels" / f"hippocampus_{i:03d}.nii.gz")
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    from PIL import Image

    root = tmp_path_factory.mktemp("bench_data")
    out = {
        "breast": _npz(root / "breastmnist" / "breastmnist.npz", (28, 28), 2),
        "retina": _npz(root / "retinamnist" / "retinamnist.npz", (28, 28, 3), 5, sizes=(50, 15, 20)),
        "adrenal": _npz(root / "adrenalmnist3d" / "adrenalmnist3d.npz", (28, 28, 28), 2, sizes=(24, 8, 8)),
    }
    rng = np.random.default_rng(1)
    out["hippo"] = _hippo(root / "msd_hippocampus", 10)  # 10 cases -> 7 train / 1 val / 2 test
    drive = root / "drive_test"
    for sub in ("images", "1st_manual", "mask"):
        (drive / sub).mkdir(parents=True)
    yy, xx = np.mgrid[:48, :40]
    fov = ((yy - 24) ** 2 + (xx - 20) ** 2 < 19**2).astype(np.uint8) * 255
    for k in range(1, 21):
        vessel = ((np.abs(yy - 10 - k) < 2) | (np.abs(xx - 5 - k) < 2)).astype(np.uint8) * 255
        rgb = np.stack([rng.integers(0, 80, (48, 40)) + (vessel > 0) * 150] * 3, axis=-1).astype(np.uint8)
        Image.fromarray(rgb).save(drive / "images" / f"{k:02d}_test.tif")
        Image.fromarray(vessel).save(drive / "1st_manual" / f"{k:02d}_manual1.gif")
        Image.fromarray(fov).save(drive / "mask" / f"{k:02d}_test_mask.gif")
    out["drive"] = drive
    return out


def _run(module: str, args: list[str]) -> None:
    mod = __import__(module)
    assert mod.main(args) == 0


def _result(docs: Path, name: str) -> dict:
    payload = json.loads((docs / f"{name}.json").read_text())
    assert (docs / f"{name}.md").is_file()
    return payload


def test_classification_benchmarks(data, tmp_path):
    docs = tmp_path / "docs"
    _run("bench_breastmnist", ["--data", str(data["breast"]), "--work", str(tmp_path / "b"), "--docs", str(docs),
                               "--arms", "scratch", "linear-probe", "finetune", *TINY])
    res = _result(docs, "breastmnist")
    assert [s["arm"] for s in res["summary"]] == ["scratch", "linear-probe", "finetune"]
    compare_dir = tmp_path / "b" / "breastmnist"  # one medtl compare at the label fraction 1
    assert json.loads((compare_dir / "compare.json").read_text())["config"]["fractions"] == [1.0]
    for row in res["runs"]:
        assert 0.0 <= row["test"]["auc"] <= 1.0 and row["wall_time_s"] > 0
        assert row["command"].startswith("medtl train --config configs/breastmnist.yaml")
        assert Path(row["run_dir"]) == compare_dir / "runs" / row["arm"] / "1" / "seed0"
        assert (Path(row["run_dir"]) / "model.safetensors").is_file()
        assert row["started_utc"] in (docs / "breastmnist.md").read_text()  # the per-run table's start time
    # the recorded commands: the arm's recipe, then the command line's settings (which win), then all labels
    sets = [c.split(" --set ", 1)[1] for c in (r["command"] for r in res["runs"])]
    assert sets[0].startswith("model.encoder=tiny --set model.weights=none --set strategy=scratch --set "
                              "optim.lr=0.001 --set linear_probe.cache_dir=")
    assert "--set strategy=linear-probe --set augment.enabled=false" in sets[1] and "seeds=" not in sets[1]
    assert all(c.endswith("--set epochs=1 --set preprocess.image_size=32 --set data.label_fraction=1 "
                          "--set data.label_seed=0") for c in sets)
    assert res["runs"][1]["test"]["auc"] > 0.8  # the probe separates the bright class on these images
    _replay(res["runs"][0], tmp_path / "replay")
    assert (docs / "breastmnist.png").stat().st_size > 1000  # per-arm plot, linked from the page
    assert "![test auc per arm](breastmnist.png)" in (docs / "breastmnist.md").read_text()
    _run("bench_retinamnist", ["--data", str(data["retina"]), "--work", str(tmp_path / "r"), "--docs", str(docs),
                               "--arms", "linear-probe", *TINY, "--seeds", "0", "1"])
    probe = _result(docs, "retinamnist")  # the classification probe is deterministic: one run for both seeds
    assert probe["summary"][0]["n"] == 1 and [r["seed"] for r in probe["runs"]] == [0]
    assert not (tmp_path / "r" / "retinamnist" / "runs" / "linear-probe" / "1" / "seed1").exists()
    # --merge adds an arm to the published page and keeps the runs that were not rerun
    _run("bench_retinamnist", ["--data", str(data["retina"]), "--work", str(tmp_path / "r"), "--docs", str(docs),
                               "--arms", "scratch", "--merge", *TINY])
    merged = _result(docs, "retinamnist")
    assert [(r["arm"], r["seed"]) for r in merged["runs"]] == [("linear-probe", 0), ("scratch", 0)]
    assert [s["arm"] for s in merged["summary"]] == ["linear-probe", "scratch"]


def _replay(row: dict, out: Path) -> None:
    """The page's `medtl train` command, run from the repository, trains the model of the row."""
    import contextlib
    import shlex

    from medtl.cli.main import main

    args = shlex.split(row["command"])[2:]
    args[args.index("--out") + 1] = str(out)
    with contextlib.chdir(BENCH.parent):
        assert main(["train", *args, "--set", "device=cpu", "--quiet"]) == 0
    with np.load(Path(row["run_dir"]) / "test_cases.npz") as a, np.load(out / "test_cases.npz") as b:
        np.testing.assert_array_equal(a["probs"], b["probs"])
    assert json.loads((out / "metrics.json").read_text())["test"] == row["test"]


def test_tta_is_scored_per_run_cached_and_reported(data, tmp_path):
    from medtl.train import evaluate

    docs, work = tmp_path / "docs", tmp_path / "b"
    args = ["--data", str(data["breast"]), "--work", str(work), "--docs", str(docs), *TINY]
    _run("bench_breastmnist", [*args, "--arms", "linear-probe"])  # a page scored before --tta
    assert "flip TTA" not in (docs / "breastmnist.md").read_text()
    _run("bench_breastmnist", [*args, "--arms", "scratch", "--merge", "--tta"])  # reuses nothing, adds TTA
    res = _result(docs, "breastmnist")
    scratch = next(r for r in res["runs"] if r["arm"] == "scratch")
    direct = evaluate(scratch["run_dir"], data["breast"], split="test", tta=True)
    assert scratch["test_tta"]["auc"] == pytest.approx(direct["auc"]) and direct["tta"] is True
    summary = {s["arm"]: s for s in res["summary"]}
    assert summary["scratch"]["auc_tta"][0] == pytest.approx(direct["auc"])
    assert "auc_tta" not in summary["linear-probe"]  # merged from the page without TTA
    page = (docs / "breastmnist.md").read_text()
    assert "| test auc, flip TTA |" in page and "not run" in page

    cache = Path(scratch["run_dir"]) / "bench_tta.json"
    stamp = cache.stat().st_mtime_ns
    _run("bench_breastmnist", [*args, "--arms", "scratch", "linear-probe", "--tta"])  # re-render: cached
    assert cache.stat().st_mtime_ns == stamp
    res = _result(docs, "breastmnist")
    assert all("auc_tta" in s for s in res["summary"])


def test_segmentation_and_3d_benchmarks(data, tmp_path):
    docs = tmp_path / "docs"
    _run("bench_hippocampus", ["--data", str(data["hippo"]), "--work", str(tmp_path / "h"), "--docs", str(docs),
                               "--arms", "unet-scratch", *TINY])
    hip = _result(docs, "hippocampus")["runs"][0]
    assert hip["test"]["dice"] is not None and 0.0 <= hip["test"]["dice"] <= 1.0
    pretrained = Path(hip["run_dir"])
    _run("bench_adrenal", ["--data", str(data["adrenal"]), "--work", str(tmp_path / "a"), "--docs", str(docs),
                           "--pretrained", str(pretrained), *TINY])
    adr = _result(docs, "adrenalmnist3d")
    assert [s["arm"] for s in adr["summary"]] == ["scratch", "scratch-ema", "imagenet-inflated", "medtl-hippocampus"]
    assert adr["runs"][2]["epochs"] == 1  # --epochs wins over the arm's own epochs=10
    averaged = Path(adr["runs"][1]["run_dir"])
    assert (averaged / "checkpoints" / "ema.safetensors").is_file()
    info = json.loads((Path(adr["runs"][3]["run_dir"]) / "model.json").read_text())
    assert str(pretrained.resolve()) in json.dumps(info["provenance"])  # the medtl weight source was used
    _run("bench_adrenal", ["--data", str(data["adrenal"]), "--work", str(tmp_path / "a64"), "--docs", str(docs),
                           "--size", "64", "--arms", "scratch", *TINY])  # its own page; the 28^3 one stays
    assert "official 64^3" in (docs / "adrenalmnist3d_64.md").read_text()
    assert _result(docs, "adrenalmnist3d")["runs"] == adr["runs"]
    _run("bench_drive", ["--data", str(data["drive"]), "--work", str(tmp_path / "d"), "--docs", str(docs),
                         "--arms", "finetune", *TINY])
    test = _result(docs, "drive")["runs"][0]["test"]
    assert 0.0 <= test["dice_fov"] <= 1.0 and test["n_fov"] == 10


def test_label_efficiency_speed_and_readme(data, tmp_path):
    docs = tmp_path / "docs"
    for arms in (["scratch"], ["linear-probe", "--merge"]):  # the second adds its arm to the page
        _run("bench_label_efficiency", ["--dataset", "breastmnist", "--data", str(data["breast"]), "--work",
                                        str(tmp_path / "le"), "--docs", str(docs), "--fractions", "0.25", "1.0",
                                        "--arms", *arms, *TINY])
    le = _result(docs, "label_efficiency_breastmnist")
    assert {(s["arm"], s["fraction"]) for s in le["summary"]} == {
        (a, f) for a in ("scratch", "linear-probe") for f in (0.25, 1.0)}
    assert (docs / "label_efficiency_breastmnist.png").stat().st_size > 1000
    assert "pretrained @ 25 %" in (docs / "label_efficiency_breastmnist.md").read_text()
    for run in le["runs"]:  # medtl compare's nested, stratified label subsets; val/test whole
        counts = json.loads((Path(run["run_dir"]) / "model.json").read_text())["training"]["data"]["counts"]
        assert counts == {"train": 10 if run["fraction"] == 0.25 else 40, "val": 12, "test": 16}
    assert (tmp_path / "le" / "breastmnist" / "report.html").is_file()
    _run("bench_speed", ["--data", str(data["breast"]), "--hippocampus", str(data["hippo"]), "--work",
                         str(tmp_path / "s"), "--docs", str(docs), "--step-size", "32", "--step-rounds", "2",
                         "--step-steps", "2", "--pipeline-epochs", "2", *TINY])
    speed = _result(docs, "speed")
    assert speed["step"]["median_s_per_step"]["plain"] > 0 and speed["pipeline"]["speedup_per_epoch"] > 0
    assert speed["probe"]["runs"]["probe_warm_cache"]["test"] == speed["probe"]["runs"]["probe_cold_cache"]["test"]
    # --merge reruns one part and keeps the others, each with the machine and command it was measured with
    _run("bench_speed", ["--parts", "step", "--merge", "--work", str(tmp_path / "s2"), "--docs", str(docs),
                         "--step-size", "32", "--step-rounds", "2", "--step-steps", "2", *TINY])
    merged = _result(docs, "speed")
    assert merged["probe"] == speed["probe"] and merged["pipeline"] == speed["pipeline"]
    assert merged["step"]["measured"]["argv"][:3] == ["--parts", "step", "--merge"]
    assert "--parts" not in merged["probe"]["measured"]["argv"]
    assert (docs / "speed.md").read_text().count("Measured: ") == 3
    _run("run_all", ["--readme-only", "--docs", str(docs)])
    text = (docs / "README.md").read_text()
    assert "| Label efficiency, BreastMNIST | run: 4 arms/points, 1 seed(s) each |" in text
    assert "| Speed: probe vs fine-tune, input cache, step overhead | run |" in text
    assert "| DRIVE vessel segmentation | **NOT RUN** |" in text and "MedMNIST v2" in text
    assert "## Label efficiency: breastmnist" in text  # the result page is included


def test_hippocampus_split_is_fixed():
    from manifests import hippocampus_split

    split = hippocampus_split(260)
    assert [split.count(s) for s in ("train", "val", "test")] == [187, 21, 52]
    assert split == hippocampus_split(260) and split != hippocampus_split(260, seed=1)


def test_gpu_check_runs_its_parts_on_the_cpu(data, tmp_path):
    docs = tmp_path / "docs"
    args = ["--device", "cpu", "--work", str(tmp_path / "g"), "--docs", str(docs), "--breastmnist",
            str(data["breast"]), "--hippocampus", str(data["hippo"]), "--epochs", "1", "--image-size", "32",
            "--encoder", "tiny", "--score-cases", "12", "--score-workers", "0", "--score-batch", "4"]
    _run("bench_gpu", args)
    res = _result(docs, "gpu")
    parts = res["parts"]
    assert list(parts) == ["amp", "seg3d", "ddp", "score"] and all(p["ok"] for p in parts.values())
    assert [r["arm"] for r in parts["amp"]["rows"]] == ["amp", "fp32"]
    assert all(0.0 <= r["auc"] <= 1.0 and 0.0 <= r["accuracy"] <= 1.0 for r in parts["amp"]["rows"])
    assert parts["amp"]["speedup"] > 0
    assert "--set amp=false" in parts["amp"]["rows"][1]["command"]
    assert 0.0 <= parts["seg3d"]["rows"][0]["dice"] <= 1.0
    assert parts["ddp"]["backend"] == "gloo" and parts["ddp"]["step_ms"] > 0
    assert [r["cases"] for r in parts["score"]["rows"]] == [12, 12]
    # a failing part is recorded and does not stop the others
    mod = __import__("bench_gpu")
    assert mod.main([*args, "--parts", "amp", "ddp", "--work", str(tmp_path / "g2"), "--breastmnist",
                     str(tmp_path / "missing.npz")]) == 1
    parts = _result(docs, "gpu")["parts"]
    assert not parts["amp"]["ok"] and "missing.npz" in parts["amp"]["error"] and parts["ddp"]["ok"]
    assert "FAILED" in (docs / "gpu.md").read_text()


def test_probe_arm_follows_the_task():
    from common import CONFIGS
    from strategy import strategy_arms

    from medtl.compare.arms import parse_arms
    from medtl.train import load_config

    clf = strategy_arms(CONFIGS / "breastmnist.yaml", which=["linear-probe"])
    seg = strategy_arms(CONFIGS / "hippocampus.yaml", probe=["model.weights=RUN"], which=["linear-probe"])
    (clf,), (seg,) = parse_arms(clf, load_config()), parse_arms(seg, load_config())
    # a probe on cached features is one deterministic run; a frozen encoder under a trained decoder is not
    assert clf.seeds == 1 and clf.overrides == ("strategy=linear-probe", "augment.enabled=false")
    assert seg.seeds is None and seg.overrides == ("strategy=linear-probe", "model.weights=RUN")


def test_pretraining_then_the_ssl_arm(data, tmp_path):
    docs = tmp_path / "docs"
    _run("bench_pretrain", ["--dataset", "hippocampus", "--data", str(data["hippo"]), "--work", str(tmp_path / "w"),
                            "--docs", str(docs), "--encoder", "tiny", "--image-size", "32", "--epochs", "1",
                            "--set", "batch_size=4"])
    row = _result(docs, "pretraining")["runs"][0]
    ssl = Path(row["run_dir"])
    info = json.loads((ssl / "model.json").read_text())
    assert row["excluded"] > 0 and info["pretraining"]["excluded"] == row["excluded"]  # val/test never used
    assert row["command"].startswith("medtl pretrain --config") and "--exclude" in row["command"]
    _run("bench_label_efficiency", ["--dataset", "hippocampus", "--data", str(data["hippo"]), "--work",
                                    str(tmp_path / "le"), "--docs", str(docs), "--fractions", "0.5", "--arms",
                                    "--ssl", str(ssl), *TINY])
    run = _result(docs, "label_efficiency_hippocampus")["runs"][0]
    assert run["arm"] == "ssl" and "model.pretrained_decoder=true" in run["command"]
    child = json.loads((Path(run["run_dir"]) / "model.json").read_text())
    assert child["lineage"][-1]["kind"] == "self-supervised"


def test_adrenal_ssl_arm(data, tmp_path):
    docs = tmp_path / "docs"
    _run("bench_pretrain", ["--dataset", "adrenalmnist3d_64", "--data", str(data["adrenal"]), "--work",
                            str(tmp_path / "w"), "--docs", str(docs), "--encoder", "tiny", "--image-size", "32",
                            "--epochs", "1", "--set", "batch_size=4"])
    ssl = Path(_result(docs, "pretraining")["runs"][0]["run_dir"])
    with pytest.raises(SystemExit):  # the arm needs its source
        _run("bench_adrenal", ["--data", str(data["adrenal"]), "--docs", str(docs), "--arms", "ssl", *TINY])
    _run("bench_adrenal", ["--data", str(data["adrenal"]), "--work", str(tmp_path / "a64"), "--docs", str(docs),
                           "--size", "64", "--arms", "ssl", "--ssl", str(ssl), *TINY])
    res = _result(docs, "adrenalmnist3d_64")
    (run,) = res["runs"]
    assert run["arm"] == "ssl" and f"model.weights={ssl.resolve()}" in run["command"]
    assert "strategy=finetune" in run["command"] and "finetune.lp_init=false" in run["command"]
    child = json.loads((Path(run["run_dir"]) / "model.json").read_text())
    assert child["lineage"][-1]["kind"] == "self-supervised"
    assert "self-supervised pretraining" in (docs / "adrenalmnist3d_64.md").read_text()
