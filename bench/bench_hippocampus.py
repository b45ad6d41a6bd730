"""MSD Hippocampus (3D MR segmentation): scratch vs ImageNet-inflated encoder (fine-tune, linear probe).

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_hippocampus.py --seeds 0

Writes the manifest (fixed seeded 208/52 split, 21 of the 208 for validation) under --work, trains
each arm from configs/hippocampus.yaml and reports test Dice (mean over anterior/posterior) and
HD95. The best run doubles as a medtl weight source for bench_adrenal.py (--weights RUN_DIR).
Results: docs/benchmarks/hippocampus.{json,md}.
Data: Medical Segmentation Decathlon Task04 (Simpson et al. 2019; Antonelli et al. 2022), CC BY-SA 4.0.
"""

from __future__ import annotations

from common import CONFIGS, DATA, base_parser, common_overrides
from compare import report, run_arms, strategy_arms
from manifests import hippocampus_manifest

CONFIG = CONFIGS / "hippocampus.yaml"
ARMS = ("scratch", "linear-probe", "finetune")
FINDINGS = [("plain MONAI UNet from scratch, 25 epochs (FINDINGS.md, same split, test on 52)",
             "Dice anterior/posterior 0.865 / 0.850"), ("nnU-Net (published)", "about 0.90 / 0.89")]


def arms(which):
    out = strategy_arms(CONFIG, scratch=["optim.lr=0.002"], which=which)
    for arm in out:  # a frozen encoder + trained decoder is not deterministic: run every seed
        arm.deterministic = False
    return out


def main(argv=None) -> int:
    p = base_parser(__doc__.splitlines()[0], seeds=(0,), name="hippocampus")
    p.add_argument("--arms", nargs="+", default=["scratch", "finetune"], choices=ARMS)
    args = p.parse_args(argv)
    manifest = hippocampus_manifest(args.data or DATA / "msd_hippocampus", args.work)
    rows = run_arms(arms(args.arms), manifest, args.work, args.seeds, extra=common_overrides(args))
    report("hippocampus", "MSD Hippocampus: 3D segmentation", rows,
           ["dice", "dice_anterior", "dice_posterior", "hd95"], args.docs, references=FINDINGS,
           intro="260 cases, fixed seeded split (numpy default_rng(0) permutation): 187 train / 21 val / 52 test. "
                 "Volumes zero-padded to the config's cube (64^3) at 1 mm, no resampling; Dice and HD95 (mm) on that grid, "
                 "mean over the two foreground labels.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
