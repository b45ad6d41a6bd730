"""AdrenalMNIST3D: scratch vs ImageNet encoder inflated to 3D vs a 3D encoder pretrained by medtl itself.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_adrenal.py --pretrained WORK/hippocampus/runs/unet-scratch/1/seed0
    .venv/bin/python bench/bench_adrenal.py --size 64 --arms ssl --ssl /tmp/hb/ssl/genesis_adrenalmnist3d_64 --merge

Arms: ``scratch`` (configs/adrenalmnist3d.yaml as is: unet-res16, random init); ``scratch-ema`` (the
same, validating and keeping an exponential moving average of the weights, ``optim.ema_decay``);
``medtl-hippocampus`` (the same encoder fine-tuned from a hippocampus segmentation model directory,
a medtl weight source: ``model.weights=RUN_DIR`` loads its ``encoder.*`` weights; without
``--pretrained`` one is trained first with configs/hippocampus.yaml on bench_hippocampus.py's
manifest); ``imagenet-inflated`` (EfficientNet-Lite0, ImageNet 2D kernels inflated to 3D,
fine-tuned with BatchNorm in training mode); ``ssl`` (the same encoder starting from a ``medtl pretrain``
directory, ``--ssl``: self-supervised on the adrenal training volumes, bench_pretrain.py --dataset
adrenalmnist3d_64; the recipe as scratch, a ``medtl compare`` pretrained arm). ``--size 64`` uses the 64^3 file instead of 28^3
(input 64^3; page adrenalmnist3d_64). Results: docs/benchmarks/adrenalmnist3d[_64].{json,md,png}.
Data: AdrenalMNIST3D, MedMNIST v2 (Yang et al. 2023, Sci Data 10:41), CC BY 4.0; MSD Task04
Hippocampus (Simpson et al. 2019; Antonelli et al. 2022), CC BY-SA 4.0.
"""

from __future__ import annotations

from pathlib import Path

from common import (
    CONFIGS,
    DATA,
    add_tta_flag,
    arm_spec,
    base_parser,
    common_overrides,
    compare_runs,
    other_encoder_arm,
)
from manifests import hippocampus_manifest
from strategy import report, run_arms

CONFIG = CONFIGS / "adrenalmnist3d.yaml"
REFERENCES = [("ResNet-18+3D, MedMNIST v2", "AUC 0.827 / ACC 0.721"),
              ("ResNet-18+ACS, MedMNIST v2", "AUC 0.839 / ACC 0.754")]
DEFAULT_ARMS = ("scratch", "scratch-ema", "imagenet-inflated", "medtl-hippocampus")
ARMS = (*DEFAULT_ARMS, "ssl")  # ssl needs a pretraining run (--ssl), so it is only run when asked for
EMA_DECAY = 0.995  # ~200 of the 1110 optimizer steps (37 a epoch, 30 epochs)
# EfficientNet-Lite0 3D at 32^3, upsampled. Not LP-FT: with the ImageNet BatchNorm statistics
# frozen, the inflated head's BN output is negative everywhere on these binary volumes, so ReLU6
# makes every pooled feature exactly 0 (a probe is at chance and the head gets no gradient).
IMAGENET = ["model.encoder=efficientnet-lite0", "model.weights=imagenet", "model.dropout=0.0",  # the finetune kind
            "preprocess.resize_mode=resize", "batch_size=16", "optim.lr=0.0005", "optim.encoder_lr=0.0001",
            "optim.warmup_epochs=0", "epochs=10", "augment.affine_prob=0.3", "augment.rotate_deg=10",
            "augment.scale=0.05"]


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
    # configs/hippocampus.yaml as it is (its strategy is scratch)
    (row,) = compare_runs([arm_spec("pretrain", "scratch")], CONFIGS / "hippocampus.yaml", manifest, out, extra=extra,
                          log=log)
    log(f"[pretrain] test dice {(row['test'] or {}).get('dice')} ({row['wall_time_s']:.0f} s)")
    return Path(row["run_dir"])


def main(argv=None) -> int:
    p = base_parser(__doc__.splitlines()[0], name="adrenalmnist3d")
    add_tta_flag(p)
    p.add_argument("--arms", nargs="+", default=list(DEFAULT_ARMS), choices=ARMS)
    p.add_argument("--pretrained", type=Path, help="hippocampus model directory (default: train one)")
    p.add_argument("--pretrain-epochs", type=int, help="epochs of that pretraining run")
    p.add_argument("--ssl", type=Path, metavar="PRETRAIN_DIR",
                   help="weights of the arm ssl (a `medtl pretrain` directory, bench_pretrain.py)")
    p.add_argument("--size", type=int, choices=(28, 64), default=28,
                   help="the official 28^3 file (zero-padded to 32^3) or the 64^3 file (input 64^3)")
    args = p.parse_args(argv)
    if "ssl" in args.arms and args.ssl is None:
        p.error("the arm ssl needs --ssl PRETRAIN_DIR (bench/bench_pretrain.py --dataset adrenalmnist3d_64)")
    big = args.size == 64
    data = args.data or DATA / "adrenalmnist3d" / ("adrenalmnist3d_64.npz" if big else "adrenalmnist3d.npz")
    if big and not args.image_size:
        args.image_size = 64  # configs/adrenalmnist3d.yaml pads 28^3 to 32^3
    arms = {"scratch": arm_spec("scratch", "scratch"),
            "scratch-ema": arm_spec("scratch-ema", "scratch", f"optim.ema_decay={EMA_DECAY}"),
            "imagenet-inflated": arm_spec("imagenet-inflated", "finetune", *other_encoder_arm(IMAGENET, args))}
    if "medtl-hippocampus" in args.arms:
        source = pretrain_source(args)
        arms["medtl-hippocampus"] = arm_spec("medtl-hippocampus", "finetune", f"model.weights={source.resolve()}")
    if args.ssl:  # every setting as scratch, the encoder from the pretraining (compare's pretrained kind)
        arms["ssl"] = arm_spec("ssl", "pretrained", str(args.ssl.resolve()))
    page = "adrenalmnist3d_64" if big else "adrenalmnist3d"
    rows = run_arms([arms[a] for a in args.arms], CONFIG, data, args.work / page, args.seeds,
                    extra=common_overrides(args), tta=args.tta, device=args.device)
    grid = "64^3 (as stored)" if big else "28^3 zero-padded to 32^3"
    report(page,
           f"AdrenalMNIST3D{' at 64^3' if big else ''}: 3D transfer", rows, ["auc", "accuracy", "balanced_accuracy"],
           args.docs, references=REFERENCES,
           intro=f"Test split (298 volumes) of the official {args.size}^3 MedMNIST v2 file; 1188 train / 98 val. "
                 f"Arms: unet-res16 random init ({grid}), without and with weight averaging (EMA, decay "
                 f"{EMA_DECAY}); the same encoder starting from a medtl "
                 "hippocampus segmentation run (MR, 3D) as weight source; EfficientNet-Lite0 with ImageNet 2D "
                 f"kernels inflated to 3D (I3D), {args.image_size or 32}^3 resized"
                 + (f"; the same encoder after self-supervised pretraining ({args.ssl.name}) on the training "
                    "volumes only (labels ignored)" if args.ssl else "") + ".", merge=args.merge)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
