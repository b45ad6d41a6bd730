"""Continuous-learning benchmarks on real data (issue #7): forgetting control and active learning.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_continual.py forgetting --out /tmp/cl_forget --seeds 0 1 2
    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_continual.py active --out /tmp/cl_active --seeds 0 1 2
    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_continual.py active-seg --seeds 0 1 2

``active-seg`` is the segmentation protocol of active learning (MSD Hippocampus; its own options, those
of the other benchmark scripts: bench/active_segmentation.py).

Both write results.json into --out and a Markdown table (+ a PNG for forgetting) into --docs
(docs/benchmarks/). Every model is trained with ``medtl.train.train``, the code behind
``medtl train``: the forgetting benchmark's task-B runs are ``medtl train --init-from <task A run>
--set continual.method=none|l2sp|ewc|rehearsal``, and their task-A before/after AUC is read from the
child's ``model.json`` ``lineage[-1]["old_task_metric"]``; the active-learning continuation is
``--init-from`` with no penalty. Data: ../shared/data/{breastmnist,retinamnist} (MedMNIST v2, CC BY 4.0).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
BREAST, RETINA = DATA / "breastmnist" / "breastmnist.npz", DATA / "retinamnist" / "retinamnist.npz"
DOCS = ROOT / "docs" / "benchmarks"


def run_dir(data: Path, out: Path, args, *, epochs: int, seed: int, extra=()) -> dict:
    """Train one medtl model directory with ``medtl.train.train`` (the code behind ``medtl train``)
    unless it already exists; returns its metrics.json plus the wall time of this call."""
    from medtl.train import load_config, train

    t0 = time.perf_counter()
    if not (out / "metrics.json").is_file():
        cfg = load_config(overrides=[f"data.path={data}", f"out={out}", f"model.encoder={args.encoder}",
                                     f"model.weights={args.weights}", f"strategy={args.strategy}", f"epochs={epochs}",
                                     f"preprocess.image_size={args.image_size}", "preprocess.in_channels=3",
                                     f"device={args.device}", "quiet=true", f"seed={seed}", *extra])
        train(cfg)
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["_wall_s"] = round(time.perf_counter() - t0, 1)
    return metrics


def parent_run(data: Path, out: Path, args, extra=()) -> dict:
    """Parent / active-learning runs: ``args.epochs`` epochs at ``args.seed``."""
    return run_dir(data, out, args, epochs=args.epochs, seed=args.seed, extra=extra)


# ---------------------------------------------------------------- forgetting (A -> B)
def _method_overrides(spec: str, args) -> tuple[str, list[str]]:
    """``"ewc@10"`` -> ("ewc", ["continual.method=ewc", "continual.ewc_lambda=10.0", ...]); without @,
    ``--alpha`` when given, else the configs/default.yaml strengths."""
    method, _, strength = spec.partition("@")
    alpha = float(strength) if strength else args.alpha
    sets = [f"continual.method={method}", f"continual.seed={args.seed}"]
    if method == "l2sp" and alpha is not None:
        sets.append(f"continual.alpha={alpha}")
    if method == "l2sp" and args.beta is not None:
        sets.append(f"continual.beta={args.beta}")
    if method == "ewc":
        sets += [f"continual.ewc_batches={args.ewc_batches}", "continual.ewc_normalize=true"]
        sets += [f"continual.ewc_lambda={alpha}"] if alpha is not None else []
    if method == "rehearsal":
        sets += [f"continual.rehearsal_size={args.rehearsal_size}", f"continual.rehearsal_ratio={args.rehearsal_ratio}"]
    return method, sets


def _task_b_data(out: Path, args, seed: int) -> Path:
    """RetinaMNIST, or a seeded class-stratified subset of its training split (--b-train-size)."""
    with np.load(args.retina) as z:
        n = len(z["train_labels"])
    if not args.b_train_size or args.b_train_size >= n:
        return Path(args.retina)
    from medtl.continual.rehearsal import stratified_indices
    from medtl.data import load_source

    recs = load_source(Path(args.retina), task="classification").records["train"]
    out.mkdir(parents=True, exist_ok=True)
    return _subset_npz(Path(args.retina), out / f"retina_train{args.b_train_size}_s{seed}.npz",
                       stratified_indices(recs, args.b_train_size, seed=seed))


def forgetting(args) -> dict:
    """Per seed: task A (BreastMNIST) with ``medtl train``; task B (RetinaMNIST) alone from the same
    ImageNet encoder; then task B with ``init_from=<task A>`` and each ``continual.method``."""
    out = Path(args.out)
    log = lambda s: print(s, flush=True)  # noqa: E731
    rows = []
    previous = out / "results.json"
    if args.append and previous.is_file():  # keep earlier runs of this benchmark, add the new ones
        rows = json.loads(previous.read_text())["rows"]
    done = {(r["seed"], r["run"]) for r in rows}
    b_sets = [f"finetune.unfreeze_groups={args.unfreeze_top}"] if args.unfreeze_top else []
    b_sets += [f"optim.encoder_lr={args.encoder_lr}", f"batch_size={args.batch_size}"]
    for seed in args.seeds:
        run_a = out / f"seed{seed}" / "task_a"
        metrics_a = run_dir(Path(args.breast), run_a, args, epochs=args.epochs, seed=seed)
        log(f"seed {seed}: task A (BreastMNIST) test AUC {metrics_a['test']['auc']:.4f}")
        data_b = _task_b_data(out / f"seed{seed}", args, seed)
        for spec in ["B alone (ImageNet init)", *args.methods]:
            if (seed, spec) in done:
                continue
            alone = spec.startswith("B alone")
            method, sets = (None, []) if alone else _method_overrides(spec, args)
            name = "b_alone" if alone else spec.replace("@", "_at_")
            child = out / f"seed{seed}" / name
            log(f"  run: {spec}")
            m = run_dir(data_b, child, args, epochs=args.epochs_b, seed=seed,
                        extra=[*b_sets, *([] if alone else [f"init_from={run_a}", *sets])])
            old = {} if alone else json.loads((child / "model.json").read_text())["lineage"][-1]
            params = old.get("params", {})
            metric = old.get("old_task_metric", {})
            rows.append({"seed": seed, "run": spec, "method": method,
                         "alpha": params.get("alpha", params.get("ewc_lambda")),
                         "task_a_before": metric.get("before"), "task_a_after": metric.get("after"),
                         "task_b": m["test"]["auc"], "best_epoch": m.get("best_epoch"), "train_s": m["_wall_s"],
                         "run_dir": str(child)})
            r = rows[-1]
            log(f"    task B AUC {r['task_b']:.4f}"
                + (f", task A AUC {r['task_a_before']:.4f} -> {r['task_a_after']:.4f}" if not alone else ""))
    return {"benchmark": "forgetting", "args": vars(args), "rows": rows}


def _mean_sd(values) -> str:
    v = [x for x in values if x is not None]
    if not v:
        return ""
    return f"{np.mean(v):.3f}" + (f" +/- {np.std(v):.3f}" if len(v) > 1 else "")


def forgetting_table(rows: list[dict]) -> list[dict]:
    """One line per run name, means over seeds; changes in AUC points (task B vs B alone of the same seed)."""
    alone = {r["seed"]: r["task_b"] for r in rows if r["method"] is None}
    table = []
    for name in dict.fromkeys(r["run"] for r in rows):
        rs = [r for r in rows if r["run"] == name]
        cont = rs[0]["method"] is not None
        change = [100 * (r["task_a_after"] - r["task_a_before"]) for r in rs if cont and r["task_a_after"] is not None]
        gap = [100 * (r["task_b"] - alone[r["seed"]]) for r in rs if r["seed"] in alone]
        met = [c >= -2 and g >= -2 for c, g in zip(change, gap)] if cont and len(change) == len(gap) else []
        table.append({"run": name, "n": len(rs), "cont": cont,
                      "before": [r["task_a_before"] for r in rs], "after": [r["task_a_after"] for r in rs],
                      "task_b": [r["task_b"] for r in rs], "change": change, "gap": gap,
                      "met": f"{sum(met)}/{len(met)}" if met else "", "train_s": np.mean([r["train_s"] for r in rs]),
                      "best_epoch": "/".join(str(r.get("best_epoch", "?")) for r in rs)})
    return table


def write_forgetting_docs(res: dict, docs: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a, table = res["args"], forgetting_table(res["rows"])
    seeds = sorted({r["seed"] for r in res["rows"]})
    pts = lambda v: (f"{np.mean(v):+.1f}" + (f" +/- {np.std(v):.1f}" if len(v) > 1 else "")) if v else ""  # noqa: E731
    lines = ["# Forgetting benchmark: BreastMNIST (task A) then RetinaMNIST (task B)", "",
             f"EfficientNet-Lite0 ({a['weights']}), {a['image_size']} px, 3 channels; every run is "
             "`medtl.train.train` (the code behind `medtl train`). Task A: `medtl train` "
             f"{a['strategy']} (LP-FT defaults), {a['epochs']} epochs. Task B: `medtl train "
             "--init-from <task A run> --set continual.method=...` (a new 5-class head on the task-A encoder, "
             f"{str(a['b_train_size']) + ' class-stratified' if a['b_train_size'] else 'all 1080'} training "
             f"images, {a['strategy']} with linear-probe head init, {a['epochs_b']} epochs of "
             f"{'the top ' + str(a['unfreeze_top']) if a['unfreeze_top'] else 'all'} encoder groups, encoder lr "
             f"{a['encoder_lr']}, batch {a['batch_size']}, best validation epoch kept: epoch 0 is the linear-probe "
             "head on the unchanged encoder); 'B alone' is the same "
             "run without --init-from, from the ImageNet encoder. "
             "Strengths: the value after @ (L2-SP `continual.alpha`, EWC `continual.ewc_lambda` with "
             f"`ewc_normalize: true`, Fisher from {a['ewc_batches']} batches of task A); without @, "
             + (f"{a['alpha']}" if a["alpha"] is not None else "the configs/default.yaml values "
                "(L2-SP alpha 0.01, EWC lambda 10)")
             + f". Rehearsal: {a['rehearsal_size']} task-A records, {a['rehearsal_ratio']} of each epoch, through "
             "the old head. Task A before/after: `model.json` `lineage[-1].old_task_metric` (task-A test "
             "AUC of the parent, and of the child through the old head); task B: the child's `metrics.json` "
             f"test AUC (macro one-vs-rest). Seeds {', '.join(map(str, seeds))}; mean +/- sd over seeds. "
             "Target (issue #7): task A loses at most 2 AUC points and task B stays within 2 points of "
             "training on B alone.", "",
             "| run | task A AUC before | task A AUC after | change (points) | task B AUC | vs B alone (points) "
             "| target met (seeds) | best epoch (per seed) | time (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for t in table:
        lines.append(f"| {t['run']} | {_mean_sd(t['before'])} | {_mean_sd(t['after'])} | {pts(t['change'])} | "
                     f"{_mean_sd(t['task_b'])} | {pts(t['gap'])} | {t['met']} | {t['best_epoch']} | {t['train_s']:.0f} |")
    lines += ["", "![forgetting](continual_forgetting.png)", "",
              "Command: `" + res["command"] + "`. Machine: " + res.get("machine", "2 shared CPU cores") + ".", "",
              "Data: BreastMNIST and RetinaMNIST from MedMNIST v2 (Yang et al. 2023, Sci Data 10:41; "
              "Al-Dhabyani et al. 2020; DeepDRiD), CC BY 4.0."]
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "continual_forgetting.md").write_text("\n".join(lines) + "\n")
    cont = [t for t in table if t["cont"]]
    alone = next((np.mean(t["task_b"]) for t in table if not t["cont"]), None)
    fig, ax = plt.subplots(figsize=(7.5, 3.5), dpi=100)
    x = np.arange(len(cont))
    for dx, key, label in ((-0.27, "before", "task A before"), (0, "after", "task A after"), (0.27, "task_b", "task B")):
        vals = [[v for v in t[key] if v is not None] for t in cont]
        ax.bar(x + dx, [np.mean(v) if v else 0 for v in vals], 0.27, label=label,
               yerr=[np.std(v) if len(v) > 1 else 0 for v in vals], capsize=2)
    if alone is not None:
        ax.axhline(alone, color="k", ls="--", lw=1, label="task B alone")
    ax.set_xticks(x, [t["run"] for t in cont])
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("test AUC")
    ax.legend(fontsize=7, loc="upper left", ncol=4)
    fig.tight_layout()
    fig.savefig(docs / "continual_forgetting.png")
    plt.close(fig)


# ---------------------------------------------------------------- active learning
def _subset_npz(src: Path, dst: Path, train_idx) -> Path:
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["train_images"] = arrays["train_images"][np.asarray(train_idx)]
    arrays["train_labels"] = arrays["train_labels"][np.asarray(train_idx)]
    np.savez(dst, **arrays)
    return dst


def _loader(records, pre, *, batch_size: int):
    """Deterministic evaluation loader through medtl's own transforms (no augmentation)."""
    from medtl.data import build_transforms, make_dataset
    from medtl.train.data import make_loader

    items = [{k: r[k] for k in ("image", "label") if k in r} for r in records]
    ds = make_dataset(items, build_transforms(pre, train=False), cache="none")
    return make_loader(ds, batch_size=batch_size, shuffle=False, seed=0, epoch=0)


def _score_pool(run_dir: Path, pool_idx, out_dir: Path, breast: Path) -> Path:
    """Write OUT/predictions.csv (ARCHITECTURE.md "medtl.infer" columns) for the unlabelled pool."""
    import csv

    from medtl.data import PreprocessConfig, load_source
    from medtl.models import load_model_dir

    loaded = load_model_dir(run_dir)
    pre = PreprocessConfig.from_dict(loaded.preprocess)
    recs = [load_source(breast, task="classification").records["train"][i] for i in pool_idx]
    logits = []
    with torch.no_grad():
        for b in _loader(recs, pre, batch_size=64):
            logits.append(loaded.model(torch.as_tensor(b["image"]).float()))
    probs = torch.softmax(torch.cat(logits) / loaded.temperature, 1).numpy()
    out_dir.mkdir(parents=True, exist_ok=True)
    names = loaded.label_names
    with open(out_dir / "predictions.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case_id", "source"] + [f"prob_{n}" for n in names]
                   + ["predicted_label", "confidence", "uncertainty", "status"])
        for i, p in zip(pool_idx, probs):
            k = int(np.argmax(p)) if len(names) > 2 else int(p[1] >= loaded.threshold)
            ent = float(-(p * np.log(np.clip(p, 1e-12, 1))).sum() / np.log(len(p)))
            w.writerow([f"train_{i:05d}", f"breastmnist.npz#train/{i}", *[f"{v:.6f}" for v in p], names[k],
                        f"{p[k]:.6f}", f"{ent:.6f}", "ok"])
    return out_dir


def active(args) -> dict:
    from medtl.continual.select import select_cases

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    breast = Path(args.breast)
    with np.load(breast) as z:
        y = z["train_labels"].reshape(-1)
    rows = []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        idx = rng.permutation(len(y))
        n0 = int(round(args.initial_fraction * len(y)))
        labelled, pool = sorted(idx[:n0].tolist()), sorted(idx[n0:].tolist())
        base_dir = out / f"seed{seed}" / "base"
        base = parent_run(_subset_npz(breast, out / f"seed{seed}_base.npz", labelled), base_dir, args)
        scores = _score_pool(base_dir, pool, out / f"seed{seed}" / "scores", breast)
        result = {"seed": seed, "n_initial": n0, "base_auc": base["test"]["auc"]}
        for strategy in ("uncertainty", "random"):
            picked = select_cases(scores, args.budget, strategy=strategy, seed=seed)
            new_idx = [int(r["case_id"].split("_")[1]) for r in picked]  # labels revealed as a reviewer would
            data = _subset_npz(breast, out / f"seed{seed}_{strategy}.npz", labelled + new_idx)
            m = parent_run(data, out / f"seed{seed}" / strategy, args,
                           extra=[f"init_from={base_dir}", f"finetune.lp_init={str(args.continue_lp_init).lower()}"])
            result[f"{strategy}_auc"] = m["test"]["auc"]
            result[f"{strategy}_malignant_picked"] = int(sum(y[i] == 0 for i in new_idx))
        rows.append(result)
        print(json.dumps(result), flush=True)
    return {"benchmark": "active", "args": vars(args), "rows": rows}


def write_active_docs(res: dict, docs: Path) -> None:
    a, rows = res["args"], res["rows"]
    lines = ["# Active learning benchmark: BreastMNIST, uncertainty vs random selection", "",
             f"Per seed: a model trained with `medtl train` (EfficientNet-Lite0 ImageNet, {a['strategy']}, "
             f"{a['image_size']} px, {a['epochs']} epochs) on a random {int(100 * a['initial_fraction'])}% of "
             f"BreastMNIST's training labels scores the other training images; `select_cases` picks K = "
             f"{a['budget']} by uncertainty or at random; their true labels are revealed (as a reviewer "
             "would) and training continues with `--init-from` "
             + ("(linear-probe head re-fitted first, `finetune.lp_init=true`) " if a.get("continue_lp_init")
                else "(head kept, `finetune.lp_init=false`) ")
             + "on the initial plus the picked cases, best validation epoch kept. Test-split AUC.", "",
             "| seed | base AUC | + K uncertain | gain (points) | + K random | gain (points) | malignant picked (unc / rand) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['base_auc']:.3f} | {r['uncertainty_auc']:.3f} | "
                     f"{100 * (r['uncertainty_auc'] - r['base_auc']):+.1f} | {r['random_auc']:.3f} | "
                     f"{100 * (r['random_auc'] - r['base_auc']):+.1f} | {r['uncertainty_malignant_picked']} / "
                     f"{r['random_malignant_picked']} |")
    gu = [100 * (r["uncertainty_auc"] - r["base_auc"]) for r in rows]
    gr = [100 * (r["random_auc"] - r["base_auc"]) for r in rows]
    lines += [f"| mean | | | {np.mean(gu):+.1f} +/- {np.std(gu):.1f} | | {np.mean(gr):+.1f} +/- {np.std(gr):.1f} | |",
              "", "Command: `" + res["command"] + "`. Machine: 2 shared CPU cores.", "",
              "Data: BreastMNIST, MedMNIST v2 (Yang et al. 2023, Sci Data 10:41; Al-Dhabyani et al. 2020), CC BY 4.0."]
    docs.mkdir(parents=True, exist_ok=True)
    (docs / a.get("doc_name", "active_learning.md")).write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    import os
    import platform
    import sys

    words = sys.argv[1:] if argv is None else list(argv)
    if words[:1] == ["active-seg"]:
        from active_segmentation import main as active_seg

        return active_seg(words[1:])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("benchmark", choices=("forgetting", "active", "active-seg"),
                   help="active-seg: segmentation active learning, options in `active-seg --help`")
    p.add_argument("--out", required=True)
    p.add_argument("--breast", default=str(BREAST), help="task A / active-learning .npz (BreastMNIST)")
    p.add_argument("--retina", default=str(RETINA), help="task B .npz (RetinaMNIST)")
    p.add_argument("--docs", default=str(DOCS), help="where the Markdown table and PNG go")
    p.add_argument("--encoder", default="efficientnet-lite0")
    p.add_argument("--weights", default="imagenet")
    p.add_argument("--device", default="cpu")
    p.add_argument("--epochs", type=int, default=6, help="medtl train epochs (task A, active learning)")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0, help="active learning: the medtl train seed")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--strategy", default="finetune", help="medtl train strategy")
    p.add_argument("--epochs-b", type=int, default=4, help="forgetting: task-B epochs")
    p.add_argument("--b-train-size", type=int, default=0, help="task-B training subset (0 = all 1080)")
    p.add_argument("--unfreeze-top", type=int, default=0, help="task B: finetune.unfreeze_groups (0 = all)")
    p.add_argument("--batch-size", type=int, default=32, help="forgetting: task-B batch size")
    p.add_argument("--encoder-lr", type=float, default=1e-4, help="forgetting: task-B optim.encoder_lr")
    p.add_argument("--methods", nargs="+", default=["none", "l2sp", "l2sp@10", "ewc", "rehearsal"],
                   help="continual.method values; '@X' sets the strength (l2sp alpha, ewc lambda)")
    p.add_argument("--append", action="store_true", help="forgetting: add runs to --out/results.json")
    p.add_argument("--alpha", type=float, default=None, help="strength without @ (default: configs/default.yaml)")
    p.add_argument("--beta", type=float, default=None)
    p.add_argument("--ewc-batches", type=int, default=10)
    p.add_argument("--rehearsal-size", type=int, default=100)
    p.add_argument("--rehearsal-ratio", type=float, default=0.2)
    p.add_argument("--initial-fraction", type=float, default=0.2)
    p.add_argument("--budget", type=int, default=50)
    p.add_argument("--continue-lp-init", action="store_true", help="active: re-fit the probe head when continuing")
    p.add_argument("--doc-name", default="active_learning.md", help="active: file name under --docs")
    args = p.parse_args(argv)
    if not Path(args.breast).is_file() or (args.benchmark == "forgetting" and not Path(args.retina).is_file()):
        print(f"real data not found: {args.breast} / {args.retina}", file=sys.stderr)
        return 2
    earlier = Path(args.out) / "results.json"
    before = json.loads(earlier.read_text()).get("command") if args.append and earlier.is_file() else None
    res = forgetting(args) if args.benchmark == "forgetting" else active(args)
    res["command"] = "python bench/bench_continual.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if before:
        res["command"] = f"{before}`, then `{res['command']}"
    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    res["machine"] = (f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPU cores, shared; "
                      f"load average at the end {', '.join(f'{x:.1f}' for x in load)}; torch "
                      f"{torch.__version__}, {torch.get_num_threads()} threads").replace("  ", " ")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(res, indent=2))
    (write_forgetting_docs if args.benchmark == "forgetting" else write_active_docs)(res, Path(args.docs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
