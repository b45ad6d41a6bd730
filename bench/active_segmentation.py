"""Active learning for segmentation (issue #17): does `medtl select` pick the cases the model gets wrong?

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_continual.py active-seg --seeds 0 1 2

The segmentation protocol of bench_continual.py (its subcommand ``active-seg``) on MSD Hippocampus,
with the fixed 187 / 21 / 52 manifest of bench/manifests.py. Per seed: a seeded ``--base-fraction``
of the training cases (``medtl.data.subsets.label_subset``, the draw behind ``data.label_fraction``)
is labelled and ``medtl train`` (configs/hippocampus.yaml) trains the base model on it; the base
model scores the rest of the training cases (``medtl score`` on a folder of copies of their images:
the masks stay hidden); ``medtl.continual.select_cases`` picks ``--k`` of them by each strategy
(``uncertainty``, ``flags-first``, ``random`` with the seed); their masks are revealed and training
continues with ``--init-from`` the base model on base + K, as the classification ``active`` does
(same config, ``continual.method`` none). Validation and test splits stay whole; reported: test Dice
of the base and continued models, and, since the pool's true masks are known, the base model's true
Dice on the picked cases against its Dice on the whole pool. Every training is a one-run
``medtl compare`` (bench/common.compare_runs) in its own folder under ``--work/seed<S>/``, so a finished
run is kept and an interrupted one continues. Results: docs/benchmarks/active_learning_segmentation.{json,md}
(hand-written notes: docs/benchmarks/notes/active_learning_segmentation.md).
Data: Medical Segmentation Decathlon Task04 (Simpson et al. 2019; Antonelli et al. 2022), CC BY-SA 4.0.
"""

from __future__ import annotations

import json
import shlex
import shutil
import time
from pathlib import Path

import numpy as np
from common import (
    CONFIGS,
    DATA,
    arm_spec,
    base_parser,
    case_dice,
    common_overrides,
    compare_runs,
    fmt,
    machine_info,
    machine_line,
    markdown_table,
    mean_std,
    write_results,
)
from manifests import hippocampus_manifest, read_split_rows, subset_manifest

from medtl.continual.select import STRATEGIES

PAGE = "active_learning_segmentation"
CONFIG = CONFIGS / "hippocampus.yaml"


def parser():
    p = base_parser(__doc__.splitlines()[0], name="active_seg")
    p.add_argument("--base-fraction", type=float, default=0.1, help="labelled share of the training cases")
    p.add_argument("--k", type=int, default=19, help="cases picked from the unlabelled pool and revealed")
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    p.add_argument("--min-samples-per-epoch", type=int, default=64,
                   help="data.min_samples_per_epoch of every run (0 = one pass over the labelled cases)")
    p.add_argument("--tta", action="store_true", help="score the pool with flip TTA (`medtl score --tta`)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override of every run, repeatable")
    return p


def case_id(row: dict) -> str:
    """The ``case_id`` ``medtl score`` gives a manifest row's image scored from a folder of its pool."""
    from medtl.infer.cases import safe_id

    return safe_id(Path(row["image"]).name)


def score_pool(model: Path, pool: list[dict], work: Path, *, tta: bool) -> dict:
    """``medtl score`` of the pool's images (copied to ``work/pool``, no masks) into ``work/scores``,
    once (kept with its wall time in ``bench_score.json``); each case's true Dice from the written mask."""
    from medtl.fileio import atomic_write_json
    from medtl.infer.score import score
    from medtl.models.io import read_model_info

    folder, out = work / "pool", work / "scores"
    cmd = ["medtl", "score", "--model", str(model), "--input", str(folder), "--output", str(out),
           "--format", "csv,nifti", "--workers", "1", "--batch-size", "4", *(["--tta"] if tta else [])]
    stamp = out / "bench_score.json"
    if not stamp.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        for r in pool:  # copies, not links: medtl names a case by its resolved path under the input folder
            shutil.copyfile(r["image"], folder / Path(r["image"]).name)
        t0 = time.perf_counter()
        score(model, [folder], out, tta=tta, resume=True, workers=1, batch_size=4, quiet=True,
              formats=("csv", "nifti"))
        atomic_write_json(stamp, {"wall_s": round(time.perf_counter() - t0, 1), "command": shlex.join(cmd)})
    n_labels = len(read_model_info(model)["label_names"])
    dice = {case_id(r): case_dice(out / "masks" / f"{case_id(r)}.nii.gz", r["mask"], n_labels) for r in pool}
    return {"dir": out, "dice": dice, **json.loads(stamp.read_text())}


def run_seed(seed: int, manifest: Path, args) -> list[dict]:
    """Base model, pool scores, then one continued run per strategy; one row per strategy."""
    from scipy.stats import spearmanr

    from medtl.continual.select import read_predictions, select_cases
    from medtl.data.subsets import label_subset

    work = args.work / f"seed{seed}"
    train = read_split_rows(manifest, "train")
    base = label_subset(train, "segmentation", args.base_fraction, seed)
    pool = [r for r in train if r not in base]
    extra = [*common_overrides(args), f"data.min_samples_per_epoch={args.min_samples_per_epoch}", *args.sets]

    def trained(name: str, rows: list[dict], *overrides: str) -> dict:  # one `medtl compare` run on these rows
        data = subset_manifest(manifest, work / f"{name}.csv", rows)
        (row,) = compare_runs([arm_spec(name, "scratch", *overrides)], CONFIG, data, work / name, seeds=[seed],
                              extra=extra)
        return row

    base_row = trained("base", base)
    print(f"seed {seed}: base model on {len(base)} cases, test Dice {base_row['test']['dice']:.4f}", flush=True)
    scores = score_pool(Path(base_row["run_dir"]), pool, work, tta=args.tta)
    dice, preds = scores["dice"], read_predictions(scores["dir"])
    worst = set(sorted(dice, key=dice.get)[:args.k])  # the pool's K lowest true Dice
    seed_info = {"seed": seed, "n_base": len(base), "n_pool": len(pool), "epochs": base_row["epochs"],
                 "n_val": len(read_split_rows(manifest, "val")), "n_test": len(read_split_rows(manifest, "test")),
                 "base_dice": base_row["test"]["dice"],
                 "pool_true_dice": float(np.mean(list(dice.values()))),
                 "pool_flagged": sum(bool(p["flags"]) for p in preds),
                 "spearman_uncertainty_dice": float(spearmanr([p["uncertainty"] for p in preds],
                                                              [dice[p["case_id"]] for p in preds]).statistic),
                 "base_run_dir": base_row["run_dir"], "base_wall_s": base_row["wall_time_s"],
                 "score_wall_s": scores["wall_s"],
                 "base_command": base_row["command"], "score_command": scores["command"]}
    rows = []
    for strategy in args.strategies:
        sel = work / f"select_{strategy}.csv"
        picked = select_cases(scores["dir"], args.k, strategy=strategy, seed=seed, out=sel)
        ids = [p["case_id"] for p in picked]
        revealed = [r for r in pool if case_id(r) in ids]
        child = trained(strategy, base + revealed, f"init_from={base_row['run_dir']}")
        rows.append({**seed_info, "strategy": strategy, "k": len(ids), "picked": ids,
                     "dice": child["test"]["dice"], "gain": child["test"]["dice"] - seed_info["base_dice"],
                     "picked_true_dice": float(np.mean([dice[i] for i in ids])),
                     "picked_in_worst_k": len(worst & set(ids)), "picked_flagged": sum(bool(p["flags"]) for p in picked),
                     "best_epoch": child["best_epoch"], "wall_time_s": child["wall_time_s"],
                     "started_utc": child.get("started_utc"), "load_avg_1m_start": child.get("load_avg_1m_start"),
                     "run_dir": child["run_dir"], "command": child["command"],
                     "select_command": shlex.join(["medtl", "select", "--scores", str(scores["dir"]), "--budget",
                                                   str(args.k), "--strategy", strategy, "--seed", str(seed),
                                                   "--out", str(sel)])})
        print(f"seed {seed} {strategy}: test Dice {rows[-1]['dice']:.4f} (base {seed_info['base_dice']:.4f}); "
              f"picked true Dice {rows[-1]['picked_true_dice']:.3f} vs pool {seed_info['pool_true_dice']:.3f}",
              flush=True)
    return rows


def markdown(payload: dict) -> str:
    a, runs = payload["args"], payload["runs"]
    k, n_pool = runs[0]["k"], runs[0]["n_pool"]
    lines = ["# Active learning for segmentation: MSD Hippocampus, uncertainty vs flags-first vs random", "",
             f"Protocol (issue #17), per seed: a seeded {100 * a['base_fraction']:g} % of the "
             f"{runs[0]['n_base'] + n_pool} training cases ({runs[0]['n_base']}) is labelled and `medtl train` "
             f"(configs/hippocampus.yaml, {a['encoder'] or 'unet-res16'} U-Net from scratch, {runs[0]['epochs']} epoch(s), "
             f"`data.min_samples_per_epoch={a['min_samples_per_epoch']}`) trains the base model; it scores the other "
             f"{n_pool} training images (`medtl score`{' --tta' if a['tta'] else ''}, masks hidden); `medtl select` "
             f"picks K = {k} by each strategy (`random` seeded by the seed); their masks are revealed and training "
             "continues with `--init-from` the base model on base + K (same config and epochs, no forgetting "
             f"penalty), best validation epoch kept. Validation ({runs[0]['n_val']}) and test ({runs[0]['n_test']}) "
             "splits are whole and fixed. "
             "Test Dice: mean over anterior and posterior. True Dice: the base model's mask (as `medtl score` "
             "wrote it) against the hidden reference, on the picked cases and on the whole pool; 'of the K worst': "
             f"picked cases among the pool's K lowest true Dice (random expectation K^2/pool = {k * k / n_pool:.1f}).",
             "", f"Machine: {machine_line(payload['machine'])}", "",
             f"Command: `{payload['command']}` (wall time {payload['wall_s']:.0f} s)", "", "## Per seed and strategy", ""]
    lines.append(markdown_table(
        ["seed", "strategy", "base test Dice", "continued test Dice", "gain (points)", "true Dice on picked",
         "true Dice on pool", "of the K worst", "flagged picked", "best epoch", "wall s"],
        [[r["seed"], r["strategy"], f"{r['base_dice']:.3f}", f"{r['dice']:.3f}", f"{100 * r['gain']:+.1f}",
          f"{r['picked_true_dice']:.3f}", f"{r['pool_true_dice']:.3f}", f"{r['picked_in_worst_k']}/{r['k']}",
          r["picked_flagged"], r["best_epoch"], f"{r['wall_time_s']:.0f}"] for r in runs]))
    summary = []
    for s in dict.fromkeys(r["strategy"] for r in runs):
        rs = [r for r in runs if r["strategy"] == s]
        cells = [mean_std([100 * r["gain"] for r in rs]), mean_std([r["picked_true_dice"] for r in rs]),
                 mean_std([r["pool_true_dice"] for r in rs]), mean_std([r["picked_in_worst_k"] for r in rs])]
        summary.append([s, len(rs), *[fmt(c, d, n=len(rs)) for c, d in zip(cells, (1, 3, 3, 1))]])
    lines += ["## Mean over seeds", "", markdown_table(
        ["strategy", "seeds", "gain (points)", "true Dice on picked", "true Dice on pool", "of the K worst"], summary)]
    seeds = list({r["seed"]: r for r in runs}.values())
    lines += ["## Base models", "", markdown_table(
        ["seed", "labelled", "pool", "base test Dice", "Spearman(uncertainty, true Dice), pool", "flagged in pool",
         "base training s", "scoring s"],
        [[r["seed"], r["n_base"], r["n_pool"], f"{r['base_dice']:.3f}", f"{r['spearman_uncertainty_dice']:.2f}",
          r["pool_flagged"], f"{r['base_wall_s']:.0f}", f"{r['score_wall_s']:.0f}"] for r in seeds])]
    cmds = [c for r in seeds for c in (r["base_command"], r["score_command"],
                                       *[x[key] for x in runs if x["seed"] == r["seed"]
                                         for key in ("select_command", "command")])]
    lines += ["## Commands", "", "Per seed: base training, scoring, then per strategy the selection and the "
              "continued training.", "", "```", *cmds, "```", "",
              "Data: Medical Segmentation Decathlon Task04 Hippocampus (Simpson et al. 2019; Antonelli et al. 2022), "
              "CC BY-SA 4.0."]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    from strategy import merged_rows

    args = parser().parse_args(argv)
    if args.k < 1 or not 0.0 < args.base_fraction < 1.0:
        raise SystemExit("--k must be >= 1 and --base-fraction in (0, 1)")
    t0 = time.perf_counter()
    args.work = args.work.resolve()
    manifest = hippocampus_manifest(args.data or DATA / "msd_hippocampus", args.work / "data")
    runs = [r for seed in args.seeds for r in run_seed(seed, manifest, args)]
    if args.merge:
        runs = sorted(merged_rows(Path(args.docs) / f"{PAGE}.json", runs, key=("seed", "strategy")),
                      key=lambda r: (r["seed"], STRATEGIES.index(r["strategy"])))
    payload = {"benchmark": PAGE, "machine": machine_info(), "wall_s": round(time.perf_counter() - t0, 1),
               "command": shlex.join(["python", "bench/bench_continual.py", "active-seg", *argv]),
               "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "runs": runs}
    write_results(args.docs, PAGE, payload, markdown(payload))
    return 0
