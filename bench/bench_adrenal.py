"""AdrenalMNIST3D: scratch vs ImageNet encoder inflated to 3D vs a 3D encoder pretrained by medtl itself.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_adrenal.py --pretrained /tmp/medtl-bench/hippocampus/runs/finetune/seed0

The medtl-pretrained arm starts from a hippocampus segmentation model directory (a medtl weight
source: ``--weights RUN_DIR`` loads its ``encoder.*`` weights). Without ``--pretrained`` one is
trained first with configs/hippocampus.yaml (bench_hippocampus.py's manifest). All arms use the
encoder of configs/adrenalmnist3d.yaml. Results: docs/benchmarks/adrenalmnist3d.{json,md}.
Data: AdrenalMNIST3D, MedMNIST v2 (Yang et al. 2023, Sci Data 10:41), CC BY 4.0; MSD Task04
Hippocampus (Simpson et al. 2019; Antonelli et al. 2022), CC BY-SA 4.0.
"""

from __future__ import annotations

from pathlib import Path

from common import CONFIGS, DATA, Arm, base_parser, common_overrides, train_run
from compare import report, run_arms
from manifests import hippocampus_manifest

CONFIG = CONFIGS / "adrenalmnist3d.yaml"
REFERENCES = [("ResNet-18+3D, MedMNIST v2", "AUC 0.827 / ACC 0.721"),
              ("ResNet-18+ACS, MedMNIST v2", "AUC 0.839 / ACC 0.754")]
ARMS = ("scratch", "imagenet-inflated", "medtl-hippocampus")


def pretrain_source(args, log=print) -> Path:
    """A hippocampus segmentation model directory with the adrenal config's encoder."""
    if args.pretrained:
        return Path(args.pretrained)
    from medtl.train import load_config

    encoder = load_config(CONFIG, common_overrides(args)).model.encoder
    manifest = hippocampus_manifest(DATA / "msd_hippocampus", args.work / "hippocampus")
    out = args.work / "hippocampus-pretrain"
    extra = [*common_overrides(args), f"model.encoder={encoder}"]
    if args.pretrain_epochs:
        extra.append(f"epochs={args.pretrain_epochs}")
    log(f"[pretrain] hippocampus segmentation -> {out}")
    row = train_run(Arm("pretrain", CONFIGS / "hippocampus.yaml"), manifest, out, seed=0, extra=extra)
    log(f"[pretrain] test dice {(row['test'] or {}).get('dice')} ({row['wall_time_s']:.0f} s)")
    return out


def main(argv=None) -> int:
    p = base_parser(__doc__.splitlines()[0], name="adrenalmnist3d")
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    p.add_argument("--pretrained", type=Path, help="hippocampus model directory (default: train one)")
    p.add_argument("--pretrain-epochs", type=int, help="epochs of that pretraining run")
    args = p.parse_args(argv)
    data = args.data or DATA / "adrenalmnist3d" / "adrenalmnist3d.npz"
    arms = {"scratch": Arm("scratch", CONFIG, ["strategy=scratch", "model.weights=none", "optim.lr=0.001"]),
            "imagenet-inflated": Arm("imagenet-inflated", CONFIG, ["strategy=finetune"])}  # config: imagenet
    if "medtl-hippocampus" in args.arms:
        source = pretrain_source(args)
        arms["medtl-hippocampus"] = Arm("medtl-hippocampus", CONFIG,
                                        ["strategy=finetune", f"model.weights={source.resolve()}"])
    rows = run_arms([arms[a] for a in args.arms], data, args.work, args.seeds, extra=common_overrides(args))
    report("adrenalmnist3d", "AdrenalMNIST3D: 3D transfer", rows, ["auc", "accuracy", "balanced_accuracy"],
           args.docs, references=REFERENCES,
           intro="Test split (298 volumes) of the official 28^3 MedMNIST v2 file; 1188 train / 98 val. "
                 "EfficientNet-Lite0 3D at 32^3 (upsampled). Arms: random init; ImageNet 2D kernels inflated "
                 "to 3D (I3D); the encoder of a medtl hippocampus segmentation run (MR, 3D) as weight source.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
