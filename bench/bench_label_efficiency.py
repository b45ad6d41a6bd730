"""Label efficiency: 10/25/50/100 % of the training labels, scratch vs linear probe vs fine-tune.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_label_efficiency.py --dataset breastmnist
    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_label_efficiency.py --dataset hippocampus --seeds 0 \
        --pretrained RUN_DIR

For each (fraction, seed) a class-stratified subset of the training split is drawn with that seed
(validation and test stay whole) and written under --work (a MedMNIST npz copy, or a manifest);
each arm then trains on it from the dataset's config. The claim tested: a pretrained strategy with
25 % of the labels matches or beats scratch with 100 %. configs/hippocampus.yaml trains from
scratch (there are no published 3D weights for its unet-res16 encoder offline), so on the
hippocampus the pretrained arms need ``--pretrained RUN_DIR``: a medtl model directory with that
encoder trained on other 3D data (not on the hippocampus itself, whose test cases it must not see).
Results:
docs/benchmarks/label_efficiency_<dataset>.{json,md,png}.
"""

from __future__ import annotations

from pathlib import Path

from common import (
    CONFIGS,
    DATA,
    Arm,
    base_parser,
    commands_block,
    common_overrides,
    fmt,
    machine_info,
    machine_line,
    markdown_table,
    pyplot,
    save_figure,
    subset_npz,
    summarize,
    write_results,
)
from compare import merged_rows, run_arms, strategy_arms
from manifests import hippocampus_manifest

DATASETS = {
    "breastmnist": {"config": "breastmnist.yaml", "metric": "auc", "scratch_lr": 0.001, "finetune": [],
                    "data": DATA / "breastmnist" / "breastmnist.npz"},
    # configs/hippocampus.yaml already trains from scratch: its own learning rate is the scratch arm's.
    # The 3D source (--pretrained) is another task and domain (e.g. AdrenalMNIST3D CT): its encoder
    # must adapt, so it trains at a third of the decoder's rate, not the 5e-5 meant for ImageNet
    # features (at 10 % of the labels that gave test Dice 0.349 vs 0.696 from scratch, seed 2).
    "hippocampus": {"config": "hippocampus.yaml", "metric": "dice", "scratch_lr": None,
                    "finetune": ["optim.encoder_lr=0.001"],
                    "data": DATA / "msd_hippocampus"},
}


SUBSETS = {"breastmnist": "class-stratified draws of the training split",
           "hippocampus": "random draws of the training cases (seeded), at least 2 cases"}


def subset(dataset: str, src: Path, work: Path, fraction: float, seed: int) -> Path:
    folder = work / "subsets" / f"f{round(fraction * 100):03d}_s{seed}"
    if dataset == "hippocampus":
        return hippocampus_manifest(src, folder, fraction=fraction, fraction_seed=seed)
    return src if fraction >= 1.0 else subset_npz(src, folder, fraction, seed)


def plot(summary: list[dict], metric: str, path: Path, title: str) -> None:
    fig, ax = pyplot().subplots(figsize=(5.5, 4))
    for arm in dict.fromkeys(s["arm"] for s in summary):
        pts = sorted((s["fraction"], *s[metric]) for s in summary if s["arm"] == arm)
        xs, ms, ss = zip(*pts)
        ax.errorbar([100 * x for x in xs], ms, yerr=ss, marker="o", capsize=3, label=arm)
    ax.set_xscale("log")
    ax.set_xticks([10, 25, 50, 100], labels=["10", "25", "50", "100"])
    ax.set_xlabel("% of training labels")
    ax.set_ylabel(f"test {metric}")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def main(argv=None) -> int:
    p = base_parser(__doc__.splitlines()[0], name="label_efficiency")
    p.add_argument("--dataset", choices=sorted(DATASETS), default="breastmnist")
    p.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0])
    p.add_argument("--arms", nargs="*", default=["scratch", "linear-probe", "finetune"],
                   choices=("scratch", "linear-probe", "finetune"))
    p.add_argument("--pretrained", type=Path, help="weight source of the pretrained arms (a medtl run directory)")
    p.add_argument("--ssl", type=Path, metavar="PRETRAIN_DIR",
                   help="adds the arm 'ssl': fine-tune from this `medtl pretrain` directory (encoder and, for "
                        "segmentation, decoder), every other setting as the scratch arm (see bench_pretrain.py)")
    p.add_argument("--ssl-arm", default="ssl", metavar="NAME", help="name of the --ssl arm (e.g. ssl-mim)")
    p.add_argument("--ssl-set", action="append", default=[], metavar="KEY=VALUE",
                   help="an extra override of the --ssl arm (e.g. model.pretrained_decoder=false), repeatable")
    args = p.parse_args(argv)
    pretrained_arms = sorted({"linear-probe", "finetune"} & set(args.arms))
    if args.dataset == "hippocampus" and pretrained_arms and not args.pretrained and not args.encoder:
        p.error(f"--dataset hippocampus: the arms {', '.join(pretrained_arms)} need --pretrained RUN_DIR "
                "(configs/hippocampus.yaml has no pretrained weights; a medtl 3D run with its encoder)")
    spec = DATASETS[args.dataset]
    work = args.work / args.dataset
    src = args.data or spec["data"]
    weights = [f"model.weights={args.pretrained.resolve()}"] if args.pretrained else []
    scratch = [f"optim.lr={spec['scratch_lr']}"] if spec["scratch_lr"] else []
    arms = strategy_arms(CONFIGS / spec["config"], scratch=scratch, probe=weights,
                         finetune=[*weights, *spec["finetune"]], which=args.arms)
    if args.ssl:
        arms.append(ssl_arm(CONFIGS / spec["config"], args.ssl, name=args.ssl_arm, extra=args.ssl_set))
    for arm in arms:
        arm.deterministic = False  # each seed draws another subset
    rows = []
    for fraction in args.fractions:
        for seed in args.seeds:
            data = subset(args.dataset, src, work, fraction, seed)
            for row in run_arms(arms, data, work / f"f{round(fraction * 100):03d}", [seed],
                                extra=common_overrides(args)):
                row["fraction"] = fraction
                row["group"] = f"{row['arm']} @ {round(fraction * 100)}%"
                rows.append(row)
    docs = Path(args.docs)
    name = f"label_efficiency_{args.dataset}"
    if args.merge:  # keep the published runs of the (arm, fraction, seed) not rerun
        rows = sorted(merged_rows(docs / f"{name}.json", rows, key=("arm", "fraction", "seed")),
                      key=lambda r: (r["fraction"], r["arm"] != "scratch", r["arm"], r["seed"]))
    metric = spec["metric"]
    summary = summarize(rows, [metric], group="group")
    for s in summary:
        first = next(r for r in rows if r["group"] == s["group"])
        s["arm"], s["fraction"] = first["arm"], first["fraction"]
    info = machine_info()
    plot(summary, metric, docs / f"{name}.png", f"{args.dataset}: label efficiency")
    table = markdown_table(["arm", "% labels", "n seeds", f"test {metric}", "wall time (s)"],
                           [[s["arm"], round(100 * s["fraction"]), s["n"], fmt(s[metric], n=s["n"]),
                             fmt(s["wall_time_s"], 0, n=s["n"])]
                            for s in summary])
    md = (f"# Label efficiency: {args.dataset}\n\nMachine: {machine_line(info)}\n\n"
          f"Subsets: {SUBSETS[args.dataset]}, one per seed (validation/test whole).\n\n"
          f"{table}\n![label efficiency]({name}.png)\n\n{_verdict(summary, metric)}\n\n"
          f"Commands:\n\n{commands_block(rows)}")
    write_results(docs, name, {"benchmark": name, "machine": info, "metric": metric, "summary": summary,
                               "runs": rows}, md)
    return 0


def ssl_arm(config: Path, ssl_dir: Path, name: str = "ssl", extra=()):
    """Fine-tune from a self-supervised run with the scratch arm's budget and learning rate: the
    encoder trains at the decoder's rate (the weights are in-domain, not ImageNet features), its
    BatchNorm statistics are re-estimated (they were computed on corrupted inputs), and a
    segmentation decoder starts from the pretrained one."""
    from medtl.train import load_config

    cfg = load_config(config)
    pretrained_decoder = ["model.pretrained_decoder=true"] if cfg.task == "segmentation" else []
    return Arm(name, config, ["strategy=finetune", f"model.weights={Path(ssl_dir).resolve()}",
                               f"optim.encoder_lr={cfg.optim.lr}", "finetune.freeze_bn=false",
                               "finetune.lp_init=false", *pretrained_decoder, *extra])


def _verdict(summary: list[dict], metric: str) -> str:
    """Does a pretrained strategy at 25 % match or beat scratch at 100 %? (means compared)"""
    scratch = next((s[metric][0] for s in summary if s["arm"] == "scratch" and s["fraction"] >= 1.0), None)
    at25 = {s["arm"]: s[metric][0] for s in summary if s["arm"] != "scratch" and abs(s["fraction"] - 0.25) < 1e-9}
    if scratch is None or not at25:
        return "Claim (pretrained @ 25 % >= scratch @ 100 %): not tested (a needed point was not run)."
    best = max(at25, key=at25.get)
    ok = at25[best] >= scratch
    return (f"Claim (pretrained @ 25 % >= scratch @ 100 %): {'met' if ok else 'NOT met'} -- "
            f"{best} @ 25 %: {at25[best]:.3f} vs scratch @ 100 %: {scratch:.3f} (test {metric}, means).")


if __name__ == "__main__":
    raise SystemExit(main())
