"""Continuous-learning benchmarks on real data (issue #7): forgetting control and active learning.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_continual.py forgetting --out /tmp/cl_forget
    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_continual.py active --out /tmp/cl_active --seeds 0 1 2

Both write results.json into --out and a Markdown table (+ a PNG for forgetting) into
docs/benchmarks/. Parent models are trained with ``medtl.train.train`` (the same code as
``medtl train``). The continued runs of the forgetting benchmark use the compact loop below,
because medtl.train does not yet call medtl.continual (docs/continual.md "Integration"); the
active-learning continuation needs no penalty and uses ``train(--init-from)`` directly.
Data: ../shared/data/{breastmnist,retinamnist} (MedMNIST v2, CC BY 4.0).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
BREAST, RETINA = DATA / "breastmnist" / "breastmnist.npz", DATA / "retinamnist" / "retinamnist.npz"
DOCS = ROOT / "docs" / "benchmarks"


def parent_run(data: Path, out: Path, args, extra=()) -> dict:
    """Train a medtl model directory with medtl.train (LP-FT defaults) unless it exists."""
    from medtl.train import load_config, train

    if not (out / "metrics.json").is_file():
        cfg = load_config(overrides=[f"data.path={data}", f"out={out}", "model.encoder=efficientnet-lite0",
                                     "model.weights=imagenet", f"strategy={args.strategy}", f"epochs={args.epochs}",
                                     f"preprocess.image_size={args.image_size}", "preprocess.in_channels=3",
                                     "quiet=true", f"seed={args.seed}", *extra])
        train(cfg)
    return json.loads((out / "metrics.json").read_text())


# ---------------------------------------------------------------- forgetting (A -> B)
def _loader(records, pre, *, train: bool, batch_size: int, seed: int, epoch: int = 0):
    from medtl.data import build_transforms, make_dataset
    from medtl.train.data import make_loader

    keys = ("image", "label", "rehearsal")
    items = [{k: r[k] for k in keys if k in r} for r in records]
    ds = make_dataset(items, build_transforms(pre, train=False), cache="none")
    return make_loader(ds, batch_size=batch_size, shuffle=train, seed=seed, epoch=epoch)


def _auc(model, records, pre, head=None) -> float:
    from medtl.train.metrics import classification_metrics

    prev = model.active_head
    model.set_active_head(head or prev)
    model.eval()
    logits, labels = [], []
    with torch.no_grad():
        for b in _loader(records, pre, train=False, batch_size=64, seed=0):
            logits.append(model(torch.as_tensor(b["image"]).float()))
            labels.append(torch.as_tensor(b["label"]).reshape(-1))
    model.set_active_head(prev)
    probs = torch.softmax(torch.cat(logits), 1).numpy()
    return float(classification_metrics(probs, torch.cat(labels).numpy())["auc"])


def _freeze_bn(model) -> None:
    for m in model.encoder.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


def fit_task_b(model, cont, records, pre, args, log) -> float:
    """1 epoch head only (LP), then ``epochs_b`` epochs of fine-tuning with the forgetting control.
    Returns the wall time in seconds."""
    from medtl.continual.continuation import replay_loss

    ce = torch.nn.functional.cross_entropy
    t0 = time.perf_counter()
    records = cont.train_records(records) if cont is not None else records
    head_params = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    opt_head = torch.optim.AdamW(head_params, lr=1e-3, weight_decay=1e-4)
    opt = torch.optim.AdamW([{"params": model.encoder.parameters(), "lr": args.encoder_lr},
                             {"params": head_params, "lr": 1e-3}], weight_decay=1e-4)
    steps = args.epochs_b * math.ceil(len(records) / args.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    groups = model.encoder.param_groups()
    top = groups[len(groups) - args.unfreeze_top:] if args.unfreeze_top else groups
    for epoch in range(args.epochs_b + 1):
        warm = epoch == 0
        model.train()
        _freeze_bn(model)
        model.encoder.requires_grad_(False)
        for _, params in ([] if warm else top):
            for p in params:
                p.requires_grad_(True)
        for b in _loader(records, pre, train=True, batch_size=args.batch_size, seed=args.seed, epoch=epoch):
            x, y = torch.as_tensor(b["image"]).float(), torch.as_tensor(b["label"]).long().reshape(-1)
            o = opt_head if warm else opt
            o.zero_grad(set_to_none=True)
            if cont is not None and cont.routes_replay:
                loss = replay_loss(model, x, y, b["rehearsal"], loss_fn=ce, old_loss_fn=ce, old_head=cont.old_head)
            else:
                loss = ce(model(x), y)
            if cont is not None and not warm:
                loss = cont.loss(model, loss)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            o.step()
            if not warm:
                sched.step()
        log(f"  epoch {epoch} {'(head only) ' if warm else ''}last batch loss {loss.item():.4f}")
    model.encoder.requires_grad_(True)
    return time.perf_counter() - t0


def forgetting(args) -> dict:
    from medtl.continual.config import ContinualConfig
    from medtl.continual.continuation import prepare_continuation
    from medtl.continual.parent import parent_source
    from medtl.data import PreprocessConfig, load_source
    from medtl.models import ModelConfig, build_model, load_model_dir

    out = Path(args.out)
    log = lambda s: print(s, flush=True)  # noqa: E731
    parent_dir = out / "task_a"
    metrics_a = parent_run(BREAST, parent_dir, args)
    parent = load_model_dir(parent_dir)
    pre = PreprocessConfig.from_dict(parent.preprocess)
    src_a, src_b = parent_source(parent_dir), load_source(RETINA, task="classification")
    b_train = src_b.records["train"]
    if args.b_train_size and args.b_train_size < len(b_train):  # seeded subset (CPU budget)
        from medtl.continual.rehearsal import stratified_indices

        b_train = [b_train[i] for i in stratified_indices(b_train, args.b_train_size, seed=args.seed)]
    a_before = _auc(parent.model, src_a.records["test"], pre)
    log(f"task A (BreastMNIST) test AUC {a_before:.4f} (metrics.json {metrics_a['test']['auc']:.4f})")
    cfg_b = ModelConfig(task="classification", encoder="efficientnet-lite0", weights="imagenet", spatial_dims=2,
                        in_channels=3, num_classes=len(src_b.label_names))
    rows = []
    previous = out / "results.json"
    if args.append and previous.is_file():  # keep earlier runs of this benchmark, add the new ones
        rows = json.loads(previous.read_text())["rows"]
    runs = [("B alone (ImageNet init)", None)] + [(m, m) for m in args.methods]
    runs = [(n, m) for n, m in runs if n not in {r["run"] for r in rows}]
    for name, spec in runs:
        # "l2sp@1.0" / "ewc@1.0": the method with strength alpha = 1.0 instead of --alpha
        method, _, strength = (spec or "").partition("@")
        method = method or None
        alpha = float(strength) if strength else args.alpha
        log(f"run: {name}")
        torch.manual_seed(args.seed)
        model = build_model(cfg_b)
        cont = None
        if method is not None:
            state = parent.model.state_dict()
            model.load_state_dict({k: v for k, v in state.items() if k.startswith("encoder.")}, strict=False)
            ccfg = ContinualConfig(method=method, alpha=alpha, beta=args.beta, ewc_lambda=alpha, ewc_normalize=True,
                                   ewc_batches=args.ewc_batches,
                                   rehearsal_size=args.rehearsal_size, rehearsal_ratio=args.rehearsal_ratio,
                                   seed=args.seed)
            cont = prepare_continuation(ccfg, model, parent_dir, task="classification",
                                        label_names=src_b.label_names, batch_size=args.batch_size,
                                        parent_data=src_a)
        seconds = fit_task_b(model, cont, b_train, pre, args, log)
        b_auc = _auc(model, src_b.records["test"], pre)
        a_after = _auc(model, src_a.records["test"], pre, head=cont.old_head) if cont is not None else None
        rows.append({"run": name, "method": method, "alpha": alpha if method in ("l2sp", "ewc") else None,
                     "task_a_before": a_before if cont else None,
                     "task_a_after": a_after, "task_b": b_auc, "train_s": round(seconds, 1)})
        log(f"  task B AUC {b_auc:.4f}" + (f", task A AUC {a_before:.4f} -> {a_after:.4f}" if cont else ""))
    return {"benchmark": "forgetting", "args": vars(args), "task_a_metrics": metrics_a["test"], "rows": rows}


def write_forgetting_docs(res: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = res["rows"]
    alone = next(r["task_b"] for r in rows if r["method"] is None)
    a = res["args"]
    lines = ["# Forgetting benchmark: BreastMNIST (task A) then RetinaMNIST (task B)", "",
             f"EfficientNet-Lite0 (ImageNet), {a['image_size']} px, 3 channels. Task A: `medtl train` "
             f"{a['strategy']} (LP-FT defaults), {a['epochs']} epochs. Task B: new 5-class head on the task-A "
             f"encoder, {str(a['b_train_size']) + ' (class-stratified)' if a['b_train_size'] else 'all 1080'} "
             "training images, 1 epoch head only then "
             f"{a['epochs_b']} epochs fine-tuning of {'the top ' + str(a['unfreeze_top']) if a['unfreeze_top'] else 'all'} "
             f"encoder groups (AdamW, encoder lr "
             f"{a['encoder_lr']}, head lr 1e-3, BatchNorm statistics frozen), seed {a['seed']}. "
             f"L2-SP alpha {a['alpha']} (or the value after @), beta {a['beta']}; EWC lambda set so "
             "lambda * mean(F) = alpha over the encoder "
             f"(Fisher from {a['ewc_batches']} batches of task A); rehearsal {a['rehearsal_size']} task-A "
             f"records, {a['rehearsal_ratio']} of each epoch, through the old head. Test-split AUC "
             "(task B: macro one-vs-rest). Target (issue #7): task A loses at most 2 AUC points and task B "
             "stays within 2 points of training on B alone.", "",
             "| run | task A AUC before | task A AUC after | change (points) | task B AUC | vs B alone (points) "
             "| target met | time (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        before, after = r["task_a_before"], r["task_a_after"]
        change = f"{100 * (after - before):+.1f}" if after is not None else ""
        gap = 100 * (r["task_b"] - alone)
        met = "" if after is None else ("yes" if 100 * (after - before) >= -2 and gap >= -2 else "no")
        lines.append(f"| {r['run']} | {'' if before is None else f'{before:.3f}'} | "
                     f"{'' if after is None else f'{after:.3f}'} | {change} | {r['task_b']:.3f} | "
                     f"{gap:+.1f} | {met} | {r['train_s']} |")
    lines += ["", "![forgetting](continual_forgetting.png)", "",
              "Command: `" + res["command"] + "`. Machine: 2 shared CPU cores; one seed, so differences of a "
              "point or two are within noise.", "",
              "Data: BreastMNIST and RetinaMNIST from MedMNIST v2 (Yang et al. 2023, Sci Data 10:41; "
              "Al-Dhabyani et al. 2020; DeepDRiD), CC BY 4.0."]
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "continual_forgetting.md").write_text("\n".join(lines) + "\n")
    cont = [r for r in rows if r["method"] is not None]
    fig, ax = plt.subplots(figsize=(7.5, 3.5), dpi=100)
    x = np.arange(len(cont))
    ax.bar(x - 0.27, [r["task_a_before"] for r in cont], 0.27, label="task A before")
    ax.bar(x, [r["task_a_after"] for r in cont], 0.27, label="task A after")
    ax.bar(x + 0.27, [r["task_b"] for r in cont], 0.27, label="task B")
    ax.axhline(alone, color="k", ls="--", lw=1, label="task B alone")
    ax.set_xticks(x, [r["run"] for r in cont])
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("test AUC")
    ax.legend(fontsize=7, loc="upper left", ncol=4)
    fig.tight_layout()
    fig.savefig(DOCS / "continual_forgetting.png")


# ---------------------------------------------------------------- active learning
def _subset_npz(src: Path, dst: Path, train_idx) -> Path:
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["train_images"] = arrays["train_images"][np.asarray(train_idx)]
    arrays["train_labels"] = arrays["train_labels"][np.asarray(train_idx)]
    np.savez(dst, **arrays)
    return dst


def _score_pool(run_dir: Path, pool_idx, out_dir: Path) -> Path:
    """Write OUT/predictions.csv (ARCHITECTURE.md "medtl.infer" columns) for the unlabelled pool."""
    import csv

    from medtl.data import PreprocessConfig, load_source
    from medtl.models import load_model_dir

    loaded = load_model_dir(run_dir)
    pre = PreprocessConfig.from_dict(loaded.preprocess)
    recs = [load_source(BREAST, task="classification").records["train"][i] for i in pool_idx]
    logits = []
    with torch.no_grad():
        for b in _loader(recs, pre, train=False, batch_size=64, seed=0):
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
    with np.load(BREAST) as z:
        y = z["train_labels"].reshape(-1)
    rows = []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        idx = rng.permutation(len(y))
        n0 = int(round(args.initial_fraction * len(y)))
        labelled, pool = sorted(idx[:n0].tolist()), sorted(idx[n0:].tolist())
        base_dir = out / f"seed{seed}" / "base"
        base = parent_run(_subset_npz(BREAST, out / f"seed{seed}_base.npz", labelled), base_dir, args)
        scores = _score_pool(base_dir, pool, out / f"seed{seed}" / "scores")
        result = {"seed": seed, "n_initial": n0, "base_auc": base["test"]["auc"]}
        for strategy in ("uncertainty", "random"):
            picked = select_cases(scores, args.budget, strategy=strategy, seed=seed)
            new_idx = [int(r["case_id"].split("_")[1]) for r in picked]  # labels revealed as a reviewer would
            data = _subset_npz(BREAST, out / f"seed{seed}_{strategy}.npz", labelled + new_idx)
            m = parent_run(data, out / f"seed{seed}" / strategy, args,
                           extra=[f"init_from={base_dir}", f"finetune.lp_init={str(args.continue_lp_init).lower()}"])
            result[f"{strategy}_auc"] = m["test"]["auc"]
            result[f"{strategy}_malignant_picked"] = int(sum(y[i] == 0 for i in new_idx))
        rows.append(result)
        print(json.dumps(result), flush=True)
    return {"benchmark": "active", "args": vars(args), "rows": rows}


def write_active_docs(res: dict) -> None:
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
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / a.get("doc_name", "active_learning.md")).write_text("\n".join(lines) + "\n")


def main() -> None:
    import sys

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("benchmark", choices=("forgetting", "active"))
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=6, help="medtl train epochs (parents, active learning)")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--strategy", default="finetune", help="medtl train strategy of the parent runs")
    p.add_argument("--epochs-b", type=int, default=4)
    p.add_argument("--b-train-size", type=int, default=0, help="task-B training subset (0 = all 1080)")
    p.add_argument("--unfreeze-top", type=int, default=0, help="task B: train only the top N encoder groups")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--encoder-lr", type=float, default=1e-4)
    p.add_argument("--methods", nargs="+", default=["none", "l2sp", "ewc", "rehearsal"])
    p.add_argument("--append", action="store_true", help="forgetting: add runs to --out/results.json")
    p.add_argument("--alpha", type=float, default=0.1)
    p.add_argument("--beta", type=float, default=0.01)
    p.add_argument("--ewc-batches", type=int, default=10)
    p.add_argument("--rehearsal-size", type=int, default=100)
    p.add_argument("--rehearsal-ratio", type=float, default=0.2)
    p.add_argument("--initial-fraction", type=float, default=0.2)
    p.add_argument("--budget", type=int, default=50)
    p.add_argument("--continue-lp-init", action="store_true", help="active: re-fit the probe head when continuing")
    p.add_argument("--doc-name", default="active_learning.md", help="active: file name under docs/benchmarks/")
    args = p.parse_args()
    if not BREAST.is_file() or not RETINA.is_file():
        raise SystemExit(f"real data not found under {DATA}")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    earlier = Path(args.out) / "results.json"
    before = json.loads(earlier.read_text()).get("command") if args.append and earlier.is_file() else None
    res = forgetting(args) if args.benchmark == "forgetting" else active(args)
    res["command"] = "python bench/bench_continual.py " + " ".join(sys.argv[1:])
    if before:
        res["command"] = f"{before}`, then `{res['command']}"
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(res, indent=2))
    (write_forgetting_docs if args.benchmark == "forgetting" else write_active_docs)(res)


if __name__ == "__main__":
    main()
