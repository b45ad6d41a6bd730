"""Segmentation triage (issue #17): does `medtl score`'s uncertainty put the failed masks first?

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_triage.py --seed 0

Trains (or reuses) a small MSD Hippocampus model (configs/hippocampus.yaml, --hippo-epochs) and a
DRIVE model (configs/drive.yaml, --drive-epochs) under --work; `medtl train` stores the training
masks' statistics (mask_stats.json) beside each. A model directory given with --hippo-model /
--drive-model that predates those statistics is copied and given them from its training
manifest's train rows (the same function `medtl train` uses). Each test split is scored without
and with flip TTA, and per case the Dice against the reference mask is computed on the input's
grid (DRIVE: inside the field-of-view mask, the DRIVE convention). Reported per dataset: Spearman
correlation of each uncertainty variant with Dice (target <= -0.5), the share of failures (Dice
below the 10th percentile) among the 20 % most uncertain cases (target >= 60 %; random: 20 %),
each quality flag's precision, and scoring throughput with the triage fields on vs off (target:
<= 10 % slower; off = the same scorer with the triage step patched out). The hippocampus model also
scores the real brain MR series of ../shared/data/dicom_brain_mr (whole heads, not hippocampus
crops), where the field-of-view flag should fire on every series.
Results: docs/benchmarks/triage.{json,md}.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import time
from pathlib import Path
from unittest import mock

import numpy as np
from common import (
    CONFIGS,
    DATA,
    arm_spec,
    base_parser,
    case_dice,
    compare_runs,
    machine_info,
    machine_line,
    markdown_table,
    write_results,
)
from manifests import drive_manifest, hippocampus_manifest, read_split_rows

FAIL_PERCENTILE = 10
REVIEW_SHARE = 0.2
VARIANTS = ("entropy", "tta_disagreement", "mean", "max", "entropy_fg", "entropy_per_volume")


def ensure_stats(run_dir: Path, manifest: Path, work: Path) -> Path:
    """``run_dir`` if it has mask_stats.json, else a copy given them from ``manifest``'s train rows."""
    from medtl.data.mask_stats import STATS_FILE, training_stats, write_stats
    from medtl.models.io import read_model_info

    if (run_dir / STATS_FILE).is_file():
        return run_dir
    copy = work / "models" / run_dir.name
    if not (copy / STATS_FILE).is_file():
        shutil.copytree(run_dir, copy, dirs_exist_ok=True)
        rows = read_split_rows(manifest, "train")
        write_stats(copy, training_stats(rows, read_model_info(run_dir)["label_names"]))
    return copy


def score_split(model: Path, images: list[str], out: Path, *, tta: bool, triage: bool = True):
    from medtl.infer.score import score
    from medtl.infer.triage import Triage

    shutil.rmtree(out, ignore_errors=True)
    off = mock.patch("medtl.infer.casewriter.triage", lambda *a, **k: Triage({}, {}, None))
    with off if not triage else contextlib.nullcontext():
        return score(model, images, out, tta=tta, workers=1, batch_size=4, quiet=True, formats=("csv", "nifti"))


def preview_variants(case_dir: Path) -> dict:
    """Two alternatives measured from the stored preview (not what medtl writes): the mean entropy
    over the predicted foreground only, and the summed entropy per foreground voxel."""
    with np.load(case_dir / "preview.npz") as z:
        ent, fg = z["entropy"].astype(np.float64) / 255.0, z["mask"] > 0
    n = int(fg.sum())
    return {"entropy_fg": float(ent[fg].mean()) if n else 0.0, "entropy_per_volume": float(ent.sum() / max(n, 1))}


def case_table(out: Path, tta_out: Path, rows: list[dict], n_labels: int) -> list[dict]:
    import json

    cases = []
    for r in rows:
        cid = Path(r["image"]).name.split(".")[0]
        plain = json.loads((out / "cases" / cid / "case.json").read_text())
        tta = json.loads((tta_out / "cases" / cid / "case.json").read_text())
        parts = tta["uncertainty_parts"]
        cases.append({"case_id": cid, "dice": case_dice(out / "masks" / f"{cid}.nii.gz", r["mask"], n_labels, r.get("fov")),
                      "entropy": plain["uncertainty"], "tta_disagreement": parts["tta_disagreement"],
                      "mean": tta["uncertainty"], "max": max(parts["entropy"], parts["tta_disagreement"]),
                      **preview_variants(out / "cases" / cid), "flags": [f["code"] for f in plain["flags"]]})
    return cases


def triage_metrics(cases: list[dict], key: str) -> dict:
    from scipy.stats import spearmanr

    dice = np.array([c["dice"] for c in cases])
    unc = np.array([c[key] for c in cases])
    failed = dice < np.percentile(dice, FAIL_PERCENTILE)
    top = np.argsort(-unc, kind="stable")[: math.ceil(REVIEW_SHARE * len(cases))]
    caught = int(failed[top].sum())
    return {"spearman": float(spearmanr(unc, dice).statistic), "failures": int(failed.sum()),
            "caught_in_top20": caught, "capture": caught / max(1, int(failed.sum())), "reviewed": len(top)}


def flag_precision(cases: list[dict]) -> dict:
    dice = np.array([c["dice"] for c in cases])
    failed = dice < np.percentile(dice, FAIL_PERCENTILE)
    out = {}
    for code in sorted({f for c in cases for f in c["flags"]}):
        hit = np.array([code in c["flags"] for c in cases])
        out[code] = {"n": int(hit.sum()), "failures": int((hit & failed).sum()),
                     "precision": float((hit & failed).sum() / hit.sum()), "mean_dice": float(dice[hit].mean())}
    return out


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the loader workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def throughput(model: Path, images: list[str], work: Path, repeats: int) -> dict:
    """Cases/s of the scoring loop without TTA, triage on vs off, alternating to share the machine's
    noise; and CPU seconds per case (less sensitive to other jobs on a shared machine than wall time)."""
    rates: dict[str, list[float]] = {"on": [], "off": []}
    cpu: dict[str, list[float]] = {"on": [], "off": []}
    for _ in range(repeats):
        for mode in ("off", "on"):
            c0 = _cpu_s()
            s = score_split(model, images, work / f"speed_{mode}", tta=False, triage=mode == "on")
            cpu[mode].append((_cpu_s() - c0) / s.total)
            rates[mode].append(s.total / s.loop_s)
    on, off = float(np.median(rates["on"])), float(np.median(rates["off"]))
    cpu_on, cpu_off = float(np.median(cpu["on"])), float(np.median(cpu["off"]))
    return {"cases": len(images), "rates_on": rates["on"], "rates_off": rates["off"], "median_on": on,
            "median_off": off, "slowdown": 1.0 - on / off, "cpu_s_per_case_on": cpu["on"],
            "cpu_s_per_case_off": cpu["off"], "cpu_extra": cpu_on / cpu_off - 1.0}


def ood_check(model: Path, work: Path) -> dict:
    import json

    series = sorted(p for p in (DATA / "dicom_brain_mr").glob("Study*/*") if p.is_dir() and "HCrop" not in p.name)
    if not series:
        return {}
    out = work / "ood"
    score_split(model, [str(p) for p in series], out, tta=False)
    flags = {}
    for case in sorted((out / "cases").iterdir()):
        flags[case.name] = [f["code"] for f in json.loads((case / "case.json").read_text())["flags"]]
    return {"series": len(flags), "fov_flagged": sum("fov_out_of_range" in f for f in flags.values()),
            "flags": flags}


def run_dataset(name: str, model: Path, rows: list[dict], work: Path, repeats: int, reuse: bool = False) -> dict:
    """Score (or, with ``reuse``, read an earlier run's scores and throughput from ``work``) and measure."""
    import json

    from medtl.fileio import atomic_write_json
    from medtl.models.io import read_model_info

    n_labels = len(read_model_info(model)["label_names"])
    images = [r["image"] for r in rows]
    t0 = time.perf_counter()
    for folder, tta in (("plain", False), ("tta", True)):
        if not (reuse and (work / folder / "predictions.csv").is_file()):
            score_split(model, images, work / folder, tta=tta)
    cases = case_table(work / "plain", work / "tta", rows, n_labels)
    saved = work / "throughput.json"
    if reuse and saved.is_file():
        speed = json.loads(saved.read_text())
    else:
        speed = throughput(model, images, work, repeats)
        atomic_write_json(saved, speed)
    return {"model": str(model), "cases": cases, "dice_mean": float(np.mean([c["dice"] for c in cases])),
            "variants": {v: triage_metrics(cases, v) for v in VARIANTS}, "flags": flag_precision(cases),
            "throughput": speed, "wall_s": round(time.perf_counter() - t0, 1)}


def _trained(name: str, kind: str, config: Path, manifest: Path, args, overrides: list[str]) -> tuple[Path, dict]:
    """``config`` (whose strategy is ``kind``) with ``overrides``, trained (or kept) in WORK/train/<name>."""
    (row,) = compare_runs([arm_spec(name, kind, *overrides)], config, manifest, args.work / "train" / name,
                          seeds=[args.seed])
    return Path(row["run_dir"]), row


def models(args) -> dict[str, tuple[Path, list[dict], dict]]:
    """name -> (model directory with statistics, test rows, training row or {})."""
    out = {}
    hman = hippocampus_manifest(DATA / "msd_hippocampus", args.work / "hippocampus")
    if args.hippo_model:
        src = args.hippo_model
        hmodel, hrow = ensure_stats(src, Path(_config_data(src)), args.work), {}
    else:
        hmodel, hrow = _trained("hippocampus", "scratch", CONFIGS / "hippocampus.yaml", hman, args,
                                [f"epochs={args.hippo_epochs}"])
    out["hippocampus"] = (hmodel, read_split_rows(hman, "test"), hrow)
    dman = drive_manifest(DATA / "drive_test", args.work / "drive")
    if args.drive_model:
        dmodel, drow = ensure_stats(args.drive_model, dman, args.work), {}
    else:
        dmodel, drow = _trained("drive", "finetune", CONFIGS / "drive.yaml", dman, args,
                                [f"epochs={args.drive_epochs}", f"linear_probe.cache_dir={args.work / 'emb'}"])
    rows = read_split_rows(dman, "test")
    for r in rows:
        r["fov"] = str(Path(r["mask"]).parents[1] / "fov" / Path(r["mask"]).name)
    out["drive"] = (dmodel, rows, drow)
    return out


def _config_data(run_dir: Path) -> str:
    import yaml

    return yaml.safe_load((run_dir / "config.yaml").read_text())["data"]["path"]


def _pct(v: float) -> str:
    return f"{100 * v:.0f} %"


def markdown(payload: dict) -> str:
    lines = ["# Segmentation triage: uncertainty and quality flags against per-case Dice", "",
             payload["intro"], "", f"Machine: {machine_line(payload['machine'])}", "",
             f"Command: `{payload['command']}` (wall time {payload['wall_s']:.0f} s)", ""]
    for name, d in payload["datasets"].items():
        trained = f" (`{d['train_command']}`)" if d.get("train_command") else ""
        lines += [f"## {name}", "", f"Model: `{d['model']}`{trained}; {len(d['cases'])} test cases, "
                  f"mean Dice {d['dice_mean']:.3f}.", ""]
        rows = [[v, f"{m['spearman']:.2f}", f"{m['caught_in_top20']}/{m['failures']} ({_pct(m['capture'])})"]
                for v, m in d["variants"].items()]
        lines += [markdown_table(["uncertainty", "Spearman with Dice (target <= -0.5)",
                                  f"failures caught in the {_pct(REVIEW_SHARE)} most uncertain (target >= 60 %)"], rows)]
        frows = [[k, f["n"], f"{f['failures']} ({_pct(f['precision'])})", f"{f['mean_dice']:.3f}"]
                 for k, f in d["flags"].items()] or [["(no flag raised)", 0, "", ""]]
        lines += [markdown_table(["flag", "cases", "of them failures (precision)", "mean Dice of flagged"], frows)]
        t = d["throughput"]
        lines += [f"Throughput without TTA ({t['cases']} cases, median of {len(t['rates_on'])} alternating runs): "
                  f"{t['median_on']:.2f} cases/s with the triage fields, {t['median_off']:.2f} without: "
                  f"{_pct(t['slowdown'])} slower (target <= 10 %). CPU time per case (scoring process and its "
                  f"loader worker, median): {1000 * float(np.median(t['cpu_s_per_case_on'])):.0f} ms with, "
                  f"{1000 * float(np.median(t['cpu_s_per_case_off'])):.0f} ms without: {_pct(t['cpu_extra'])} more.", ""]
    ood = payload.get("ood") or {}
    if ood:
        lines += ["## Whole-head brain MR scored by the hippocampus model", "",
                  f"{ood['fov_flagged']} of {ood['series']} series flagged `fov_out_of_range`.", ""]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    import sys

    p = base_parser(__doc__.splitlines()[0], seeds=(0,), name="triage")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hippo-epochs", type=int, default=10)
    p.add_argument("--drive-epochs", type=int, default=15)
    p.add_argument("--hippo-model", type=Path, help="an existing hippocampus model directory instead of training")
    p.add_argument("--drive-model", type=Path, help="an existing DRIVE model directory instead of training")
    p.add_argument("--repeats", type=int, default=2, help="throughput runs per mode")
    p.add_argument("--reuse", action="store_true",
                   help="reuse the scores and throughput an earlier run left under --work (re-render only)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    datasets = {}
    found = models(args)
    for name, (model, rows, train_row) in found.items():
        d = run_dataset(name, model, rows, args.work / name / "scores", args.repeats, args.reuse)
        d["train_command"] = train_row.get("command")
        d["train_wall_s"] = train_row.get("wall_time_s")
        datasets[name] = d
    payload = {"machine": machine_info(), "command": "bench/bench_triage.py " + " ".join(argv or sys.argv[1:]),
               "seed": args.seed, "datasets": datasets, "ood": ood_check(found["hippocampus"][0], args.work),
               "wall_s": time.perf_counter() - t0,
               "intro": "Failures = cases with Dice below the 10th percentile of their test split. Uncertainty "
                        "variants: `entropy` (medtl's uncertainty without --tta: mean normalised entropy over the "
                        "predicted foreground and a one-voxel band), `tta_disagreement` (1 - Dice between the "
                        "identity and flipped views' masks), `mean` (their mean: medtl's uncertainty with --tta) and "
                        "`max`; two alternatives computed here from the stored preview entropy map and mask, not "
                        "written by medtl: `entropy_fg` (mean entropy over the predicted foreground only) and "
                        "`entropy_per_volume` (summed entropy over the whole image per predicted foreground voxel)."}
    write_results(args.docs, "triage", payload, markdown(payload))
    print(markdown(payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
