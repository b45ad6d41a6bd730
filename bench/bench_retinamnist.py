"""RetinaMNIST (5 classes): scratch vs linear probe vs fine-tune (LP-FT), ImageNet EfficientNet-Lite0.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_retinamnist.py

Arms start from configs/retinamnist.yaml. Results: docs/benchmarks/retinamnist.{json,md}.
Data: RetinaMNIST, MedMNIST v2 (Yang et al. 2023, Sci Data 10:41; DeepDRiD challenge), CC BY 4.0.
"""

from __future__ import annotations

from common import CONFIGS, DATA, add_tta_flag, base_parser, common_overrides
from strategy import report, run_arms, strategy_arms

CONFIG = CONFIGS / "retinamnist.yaml"
REFERENCES = [("ResNet-18 (28), MedMNIST v2", "AUC 0.717 / ACC 0.524")]
ARMS = ("scratch", "linear-probe", "finetune")


def main(argv=None) -> int:
    p = base_parser(__doc__.splitlines()[0], name="retinamnist")
    add_tta_flag(p)
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    args = p.parse_args(argv)
    data = args.data or DATA / "retinamnist" / "retinamnist.npz"
    arms = strategy_arms(CONFIG, scratch=["optim.lr=0.001"], which=args.arms)
    rows = run_arms(arms, CONFIG, data, args.work / "retinamnist", args.seeds, extra=common_overrides(args),
                    tta=args.tta, device=args.device)
    report("retinamnist", "RetinaMNIST: transfer vs scratch", rows, ["auc", "accuracy", "balanced_accuracy"],
           args.docs, references=REFERENCES,
           intro="Test split (400 images) of the official MedMNIST v2 file; 1080 train / 120 val; 5 grades. "
                 "AUC is macro one-vs-rest; accuracy is the argmax class.", merge=args.merge)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
