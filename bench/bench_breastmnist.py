"""BreastMNIST: scratch vs linear probe vs fine-tune (LP-FT), ImageNet EfficientNet-Lite0, upsampled input.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_breastmnist.py              # 3 seeds, all arms
    .venv/bin/python bench/bench_breastmnist.py --arms finetune linear-probe-224 --seeds 0
    .venv/bin/python bench/bench_breastmnist.py --size 64 --arms finetune finetune-lite2 ssl \
        --ssl /tmp/hb/ssl/genesis_breastmnist_64        # the MedMNIST+ 64 px file, its own page
    .venv/bin/python bench/bench_pretrain.py --dataset breastmnist_64 --work /tmp/hb_lite1 \
        --set model.encoder=efficientnet-lite1 --merge  # then the same LP-FT from Lite1 + that pretraining:
    .venv/bin/python bench/bench_breastmnist.py --size 64 --arms ssl-lite1 --ssl /tmp/hb_lite1/ssl/genesis_breastmnist_64 --merge

Every arm starts from configs/breastmnist.yaml (the best configuration: LP-FT); the others override
the strategy. Results: docs/benchmarks/breastmnist.{json,md}.
Data: BreastMNIST, MedMNIST v2 (Yang et al. 2023, Sci Data 10:41; Al-Dhabyani et al. 2020), CC BY 4.0.
"""

from __future__ import annotations

from pathlib import Path

from common import CONFIGS, DATA, add_tta_flag, arm_spec, base_parser, common_overrides
from strategy import report, run_arms, strategy_arms

CONFIG = CONFIGS / "breastmnist.yaml"
REFERENCES = [("ResNet-18 (28), MedMNIST v2", "AUC 0.901 / ACC 0.863"),
              ("Google AutoML Vision, MedMNIST v2", "AUC 0.919 / ACC 0.861")]
ARMS = ("scratch", "linear-probe", "linear-probe-224", "finetune", "finetune-lite1", "finetune-lite2", "ssl",
        "ssl-lite1", "ssl-lite2")


def arms(which, ssl=None):
    base = strategy_arms(CONFIG, scratch=["optim.lr=0.001"],
                         which=[w for w in which if w in ("scratch", "linear-probe", "finetune")])
    for lite in ("lite1", "lite2"):  # LP-FT from the larger ImageNet EfficientNet-Lite variants
        if f"finetune-{lite}" in which:
            base.append(arm_spec(f"finetune-{lite}", "finetune", f"model.encoder=efficientnet-{lite}"))
    for arm in [a for a in ("ssl", "ssl-lite1", "ssl-lite2") if a in which]:
        # LP-FT from ImageNet + continued self-supervised pretraining (bench_pretrain.py; ssl-liteN: of
        # that encoder, e.g. --set model.encoder=efficientnet-lite1 there)
        if ssl is None:
            raise SystemExit(f"the arm {arm} needs --ssl PRETRAIN_DIR "
                             "(bench/bench_pretrain.py --dataset breastmnist_64)")
        # the finetune kind with these weights, not compare's pretrained: (whose recipe for a pretraining
        # directory changes the encoder's learning rate and BatchNorm): the page's LP-FT as recorded
        encoder = [f"model.encoder=efficientnet-{arm.split('-')[1]}"] if "-" in arm else []
        base.append(arm_spec(arm, "finetune", *encoder, f"model.weights={ssl.resolve()}"))
    if "linear-probe-224" in which:  # FINDINGS.md: frozen features gain most from input size
        base.append(arm_spec("linear-probe-224", "linear-probe", "augment.enabled=false", "preprocess.image_size=224",
                             seeds=1))
    return base


def main(argv=None) -> int:
    p = base_parser(__doc__.splitlines()[0], name="breastmnist")
    add_tta_flag(p)
    p.add_argument("--arms", nargs="+", default=["scratch", "linear-probe", "finetune"], choices=ARMS)
    p.add_argument("--size", type=int, choices=(28, 64), default=28,
                   help="64: the official MedMNIST+ 64x64 file, on its own page (breastmnist_64)")
    p.add_argument("--ssl", type=Path, metavar="PRETRAIN_DIR", help="weights of the arm ssl (a medtl pretrain dir)")
    args = p.parse_args(argv)
    name = "breastmnist" if args.size == 28 else "breastmnist_64"
    data = args.data or DATA / "breastmnist" / f"{name}.npz"
    rows = run_arms(arms(args.arms, args.ssl), CONFIG, data, args.work / name, args.seeds,
                    extra=common_overrides(args), tta=args.tta, device=args.device)
    report(name, f"BreastMNIST{'' if args.size == 28 else ' 64 px (MedMNIST+)'}: transfer vs scratch", rows,
           ["auc", "accuracy", "balanced_accuracy"], args.docs, references=REFERENCES,
           intro=f"Test split (156 images) of the official MedMNIST {'v2' if args.size == 28 else '+ 64x64'} file; "
                 f"546 train / 78 val. EfficientNet-Lite0 (ImageNet weights unless scratch; -lite1/-lite2 arms: "
                 f"those variants), {args.size} px images upsampled. Arm ssl: ImageNet Lite0 + continued "
                 "self-supervised pretraining on the training images (bench_pretrain.py), then the same LP-FT "
                 "(ssl-lite1: the same from ImageNet Lite1). "
                 "Accuracy uses the binary threshold chosen on the validation split (Youden's J) after "
                 "temperature scaling.", merge=args.merge)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
