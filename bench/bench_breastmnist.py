"""BreastMNIST: scratch vs linear probe vs fine-tune (LP-FT), ImageNet EfficientNet-Lite0, upsampled input.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_breastmnist.py              # 3 seeds, all arms
    .venv/bin/python bench/bench_breastmnist.py --arms finetune linear-probe-224 --seeds 0

Every arm starts from configs/breastmnist.yaml (the best configuration: LP-FT); the others override
the strategy. Results: docs/benchmarks/breastmnist.{json,md}.
Data: BreastMNIST, MedMNIST v2 (Yang et al. 2023, Sci Data 10:41; Al-Dhabyani et al. 2020), CC BY 4.0.
"""

from __future__ import annotations

from common import CONFIGS, DATA, Arm, add_tta_flag, base_parser, common_overrides
from compare import report, run_arms, strategy_arms

CONFIG = CONFIGS / "breastmnist.yaml"
REFERENCES = [("ResNet-18 (28), MedMNIST v2", "AUC 0.901 / ACC 0.863"),
              ("Google AutoML Vision, MedMNIST v2", "AUC 0.919 / ACC 0.861")]
ARMS = ("scratch", "linear-probe", "linear-probe-224", "finetune")


def arms(which):
    base = strategy_arms(CONFIG, scratch=["optim.lr=0.001"],
                         which=[w for w in which if w != "linear-probe-224"])
    if "linear-probe-224" in which:  # FINDINGS.md: frozen features gain most from input size
        base.append(Arm("linear-probe-224", CONFIG, ["strategy=linear-probe", "augment.enabled=false",
                                                      "preprocess.image_size=224"], deterministic=True))
    return base


def main(argv=None) -> int:
    p = base_parser(__doc__.splitlines()[0], name="breastmnist")
    add_tta_flag(p)
    p.add_argument("--arms", nargs="+", default=["scratch", "linear-probe", "finetune"], choices=ARMS)
    args = p.parse_args(argv)
    data = args.data or DATA / "breastmnist" / "breastmnist.npz"
    rows = run_arms(arms(args.arms), data, args.work, args.seeds, extra=common_overrides(args),
                    tta=args.tta, device=args.device)
    report("breastmnist", "BreastMNIST: transfer vs scratch", rows, ["auc", "accuracy", "balanced_accuracy"],
           args.docs, references=REFERENCES,
           intro="Test split (156 images) of the official MedMNIST v2 file; 546 train / 78 val. "
                 "EfficientNet-Lite0 (ImageNet weights unless scratch), 28 px images upsampled. Accuracy uses "
                 "the binary threshold chosen on the validation split (Youden's J) after temperature scaling.", merge=args.merge)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
