"""``medtl compare``: strategies x label fractions x seeds on the user's data -> the transfer report."""

from __future__ import annotations

import argparse

EXAMPLE = """example:
  medtl compare --data breast.csv --task classification --config configs/breastmnist.yaml \\
      --arms scratch linear-probe finetune --fractions 0.1,0.25,1 --seeds 3 --out compare/breast
  medtl compare --data hippo.csv --task segmentation --config configs/hippocampus.yaml \\
      --arms scratch pretrained:runs/ssl_hippo "finetune:optim.lr=1e-4" --budget-minutes 120 --out compare/hippo
Arms: scratch | linear-probe | finetune | pretrained:MODEL_DIR, each optionally with :KEY=VALUE overrides
(and :seeds=N to run that arm with the first N seeds only), and named with NAME=: probe=linear-probe:seeds=1.
Outputs: OUT/report.md, OUT/report.html, OUT/results.json, OUT/runs/<arm>/<fraction>/seed<k>/."""


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("compare", help="compare transfer strategies on your data (the transfer report)",
                       description="Train every arm (strategy or weight source) at every label fraction with every "
                                   "seed, then report the test metric per arm, paired bootstrap differences "
                                   "('not separable' where the interval covers 0), the label-efficiency plot and a "
                                   "recommendation.",
                       epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, metavar="DATA",
                   help="what `medtl train --data` accepts: a manifest, an npz, or a dataset folder (MSD/nnU-Net, "
                        "class folders, images with masks; the task is inferred from its layout)")
    p.add_argument("--task", choices=("classification", "segmentation"), help="default: the config's")
    p.add_argument("--out", required=True, metavar="DIR", help="comparison folder (runs, report)")
    p.add_argument("--arms", nargs="+", metavar="ARM",
                   help="default: scratch linear-probe finetune when the config has pretrained weights, else scratch")
    p.add_argument("--fractions", default="0.1,0.25,0.5,1", metavar="F,F,...",
                   help="shares of the training labels (default 0.1,0.25,0.5,1; 10%% works too)")
    p.add_argument("--seeds", default="3", metavar="N|S,S,...", help="a count (seeds 0..N-1) or a list (default 3)")
    p.add_argument("--config", metavar="FILE.yaml", help="base `medtl train` config of every run")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config key for every run (repeatable)")
    p.add_argument("--budget-minutes", type=float, metavar="N",
                   help="plan within N minutes: the most informative runs first, skip what will not fit")
    p.add_argument("--bootstrap", type=int, default=2000, metavar="N", help="bootstrap resamples (default 2000)")
    p.add_argument("--no-plots", action="store_true", help="no label_efficiency.png (report without the plot)")
    p.add_argument("--resume", action="store_true", help="continue DIR: finished runs are kept")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: write the report of DIR's finished runs (e.g. with another --bootstrap)")
    p.add_argument("--quiet", action="store_true", help="plain log lines from each run, no progress bars (logs, CI)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"))
    return p


def run(args) -> int:
    import sys
    from pathlib import Path

    from medtl.compare import CompareConfig, compare
    from medtl.compare.config import fractions_arg, seeds_arg

    cfg = CompareConfig(data=args.data, out=args.out, task=args.task, arms=list(args.arms or []),
                        fractions=fractions_arg(args.fractions), seeds=seeds_arg(args.seeds), config=args.config,
                        overrides=list(args.overrides), budget_minutes=args.budget_minutes, resume=args.resume,
                        report_only=args.report_only,
                        quiet=args.quiet, device=args.device, bootstrap=args.bootstrap, plots=not args.no_plots)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.task is None and Path(args.data).is_dir():  # a dataset folder: the task its layout implies
        from medtl.cli.train import task_from_layout
        from medtl.train import load_config

        cfg.task = task_from_layout(args, load_config(args.config, [*args.overrides, ("data.path", args.data)])).task
    result = compare(cfg, log=log)
    rec = result.analysis.get("recommendation") or {}
    print(f"report: {result.report}")
    if rec:
        print(f"recommended arm: {rec['arm']}")
    return 0
