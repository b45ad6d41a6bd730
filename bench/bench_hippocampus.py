"""MSD Hippocampus (3D MR segmentation): residual U-Net from scratch vs ImageNet-inflated EfficientNet.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_hippocampus.py --seeds 0

Writes the manifest (fixed seeded 208/52 split, 21 of the 208 for validation) under --work, trains
each arm and reports test Dice (mean over anterior/posterior) and HD95. Arms: ``unet-scratch``
(configs/hippocampus.yaml as is: unet-res16 encoder, random init) and ``imagenet-finetune``
(EfficientNet-Lite0 with ImageNet kernels inflated to 3D, fine-tuned; 50-100x slower per epoch on
a CPU, so not run by default). The unet-scratch run doubles as the 3D weight source that
bench_adrenal.py transfers (--pretrained WORK/hippocampus/runs/unet-scratch/1/seed0).
Results: docs/benchmarks/hippocampus.{json,md}.
Data: Medical Segmentation Decathlon Task04 (Simpson et al. 2019; Antonelli et al. 2022), CC BY-SA 4.0.
"""

from __future__ import annotations

from common import CONFIGS, DATA, add_tta_flag, arm_spec, base_parser, common_overrides, other_encoder_arm
from manifests import hippocampus_manifest
from strategy import report, run_arms

CONFIG = CONFIGS / "hippocampus.yaml"
ARMS = ("unet-scratch", "imagenet-finetune")
IMAGENET = ["model.encoder=efficientnet-lite0", "model.weights=imagenet",  # the finetune kind
            "model.decoder_channels=[96,64,48,32,16]", "preprocess.image_size=64", "epochs=8",
            "optim.lr=0.002", "optim.encoder_lr=0.0005", "finetune.lp_init=false", "finetune.freeze_bn=false"]
FINDINGS = [("plain MONAI UNet from scratch, 25 epochs (FINDINGS.md, same split, test on 52)",
             "Dice anterior/posterior 0.865 / 0.850"), ("nnU-Net (published)", "about 0.90 / 0.89")]


def arms(which, args):
    table = {"unet-scratch": arm_spec("unet-scratch", "scratch"),  # the config's own strategy and weights
             "imagenet-finetune": arm_spec("imagenet-finetune", "finetune", *other_encoder_arm(IMAGENET, args))}
    return [table[w] for w in which]


def main(argv=None) -> int:
    p = base_parser(__doc__.splitlines()[0], seeds=(0,), name="hippocampus")
    add_tta_flag(p)
    p.add_argument("--arms", nargs="+", default=["unet-scratch"], choices=ARMS)
    args = p.parse_args(argv)
    manifest = hippocampus_manifest(args.data or DATA / "msd_hippocampus", args.work)
    rows = run_arms(arms(args.arms, args), CONFIG, manifest, args.work / "hippocampus", args.seeds,
                    extra=common_overrides(args), tta=args.tta, device=args.device)
    report("hippocampus", "MSD Hippocampus: 3D segmentation", rows,
           ["dice", "dice_anterior", "dice_posterior", "hd95"], args.docs, references=FINDINGS,
           intro="260 cases, fixed seeded split (numpy default_rng(0) permutation): 187 train / 21 val / 52 test. "
                 "Volumes zero-padded to 48x64x48 (64^3 for the EfficientNet arm) at 1 mm, no resampling; Dice and HD95 (mm) on that grid, "
                 "mean over the two foreground labels.", merge=args.merge)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
