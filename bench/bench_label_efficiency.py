"""Label efficiency: 10/25/50/100 % of the training labels, scratch vs linear probe vs fine-tune.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_label_efficiency.py --dataset breastmnist
    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_label_efficiency.py --dataset hippocampus --seeds 0 \
        --pretrained RUN_DIR

The experiment is `medtl compare` (medtl.compare): this script only prepares the dataset (the
MedMNIST npz as it is; a manifest with the fixed hippocampus split), turns its arms into compare arm
specs and copies the comparison's report to docs/benchmarks/label_efficiency_<dataset>.{json,md,png}.
Each seed draws a nested, class-stratified subset of the training split (validation and test stay
whole; ``data.label_fraction``). The claim tested: a pretrained strategy with 25 % of the labels
matches or beats scratch with 100 %. configs/hippocampus.yaml trains from scratch (no published 3D
weights for its unet-res16 encoder offline), so on the hippocampus the pretrained arms need
``--pretrained RUN_DIR``: a medtl model directory with that encoder trained on other 3D data (not on
the hippocampus itself, whose test cases it must not see). The comparison folder is
``--work/<dataset>``; a rerun continues it (finished runs are kept), ``--merge`` keeps its other arms
in the page.

Pages written before the script called `medtl compare` (commit 4e235d7 and earlier) drew one
independent subset per (fraction, seed) instead of nested ones; their per-run `medtl train` commands
name the subset files that version wrote.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

from common import (
    CONFIGS,
    DATA,
    ROOT,
    arm_name,
    arm_spec,
    base_parser,
    common_overrides,
    shown,
    write_results,
)
from manifests import hippocampus_manifest

DATASETS = {
    "breastmnist": {"config": "breastmnist.yaml", "metric": "auc", "scratch_lr": 0.001, "finetune": [],
                    "data": DATA / "breastmnist" / "breastmnist.npz"},
    # the MedMNIST+ 64x64 file, same config (upsampled to 224 px as on docs/benchmarks/breastmnist_64.md)
    "breastmnist_64": {"config": "breastmnist.yaml", "metric": "auc", "scratch_lr": 0.001, "finetune": [],
                       "data": DATA / "breastmnist" / "breastmnist_64.npz"},
    # configs/hippocampus.yaml already trains from scratch: its own learning rate is the scratch arm's.
    # The 3D source (--pretrained) is another task and domain (e.g. AdrenalMNIST3D CT): its encoder
    # must adapt, so it trains at a third of the decoder's rate, not the 5e-5 meant for ImageNet
    # features (at 10 % of the labels that gave test Dice 0.349 vs 0.696 from scratch, seed 2).
    "hippocampus": {"config": "hippocampus.yaml", "metric": "dice", "scratch_lr": None,
                    "finetune": ["optim.encoder_lr=0.001"],
                    "data": DATA / "msd_hippocampus"},
}


def arm_specs(args, spec: dict) -> list[str]:
    """The script's arms as `medtl compare` arm specs (NAME=KIND:KEY=VALUE...)."""
    weights = [f"model.weights={args.pretrained.resolve()}"] if args.pretrained else []
    extra = {"scratch": [f"optim.lr={spec['scratch_lr']}"] if spec["scratch_lr"] else [],
             "linear-probe": weights, "finetune": [*weights, *spec["finetune"]]}
    specs = [arm_spec(arm, arm, *extra[arm]) for arm in args.arms]
    if args.ssl:  # fine-tune from a `medtl pretrain` directory with the scratch arm's budget (see compare/arms.py)
        specs.append(arm_spec(args.ssl_arm, "pretrained", str(args.ssl.resolve()), *args.ssl_set))
    return specs


def main(argv=None) -> int:
    from medtl.compare import CompareConfig, compare

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
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override of every arm (as `medtl compare --set`), e.g. "
                        "data.min_samples_per_epoch=64; repeatable")
    p.add_argument("--budget-minutes", type=float, help="as `medtl compare --budget-minutes`")
    p.add_argument("--page", help="name of the results page (default label_efficiency_<dataset>)")
    p.add_argument("--report-only", action="store_true", help="as `medtl compare --report-only` (page from the runs "
                                                               "finished in --work)")
    args = p.parse_args(argv)
    pretrained_arms = sorted({"linear-probe", "finetune"} & set(args.arms))
    if args.dataset == "hippocampus" and pretrained_arms and not args.pretrained and not args.encoder:
        p.error(f"--dataset hippocampus: the arms {', '.join(pretrained_arms)} need --pretrained RUN_DIR "
                "(configs/hippocampus.yaml has no pretrained weights; a medtl 3D run with its encoder)")
    spec = DATASETS[args.dataset]
    args.work, args.docs = args.work.resolve(), Path(args.docs).resolve()
    if args.data:
        args.data = args.data.resolve()
    work = args.work / args.dataset
    src = args.data or spec["data"]
    data = hippocampus_manifest(src, args.work / "data") if args.dataset == "hippocampus" else src
    arms, fractions, seeds = arm_specs(args, spec), sorted(args.fractions), list(args.seeds)
    held = work / "compare.json"
    if args.merge and held.is_file():  # keep the arms, fractions and seeds the comparison already has
        old = json.loads(held.read_text())["config"]
        names = {arm_name(a) for a in arms}
        arms = [a for a in old["arms"] if arm_name(a) not in names] + arms
        fractions = sorted(set(fractions) | set(old["fractions"]))
        seeds = sorted(set(seeds) | set(old["seeds"]))
    overrides = [o for o in common_overrides(args) if not o.startswith(("device=", "quiet="))] + args.sets
    cfg = CompareConfig(data=shown(data), out=str(work), config=shown(CONFIGS / spec["config"]), arms=arms,
                        fractions=fractions, seeds=seeds, overrides=overrides, resume=True, quiet=True,
                        device=args.device, budget_minutes=args.budget_minutes, report_only=args.report_only)
    # run from the repository with paths as a user types them, so the recorded commands read the same anywhere
    with contextlib.chdir(ROOT):
        result = compare(cfg)
    return publish(args.docs, args.page or f"label_efficiency_{args.dataset}", args.dataset, result, spec["metric"])


def publish(docs: Path, name: str, dataset: str, result, metric: str) -> int:
    """The comparison's report as the benchmark page (plus the claim this benchmark tests)."""
    out = Path(result.out)
    results = json.loads((out / "results.json").read_text())
    md = (out / "report.md").read_text(encoding="utf-8").replace("](label_efficiency.png)", f"]({name}.png)")
    md = f"# Label efficiency: {dataset}\n" + md.split("\n", 1)[1]  # the report's title names the data file
    md += "\n" + _verdict(result.analysis["summary"], metric) + "\n"
    payload = {"benchmark": name, "machine": results["machine"], "metric": metric,
               "summary": result.analysis["summary"], "runs": results["runs"], "skipped": results["skipped"],
               "analysis": result.analysis, "command": results["command"]}
    write_results(docs, name, payload, md)
    if (out / "label_efficiency.png").is_file():
        shutil.copyfile(out / "label_efficiency.png", Path(docs) / f"{name}.png")
    return 0


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
