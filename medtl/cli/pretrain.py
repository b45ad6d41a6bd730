"""``medtl pretrain``: self-supervised pretraining on unlabelled scans into a model directory."""

from __future__ import annotations

import argparse

# flag attribute -> config key (flags given on the command line override --config and --set)
FLAG_KEYS = {
    "data": "data.path",
    "encoder": "model.encoder",
    "weights": "model.weights",
    "weights_dir": "model.weights_dir",
    "method": "ssl.method",
    "exclude": "ssl.exclude",
    "out": "out",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "image_size": "preprocess.image_size",
    "seed": "seed",
    "device": "device",
}

EXAMPLE = """example (3D MR, then a segmentation fine-tune that starts from it):
  medtl pretrain --data /archive/mr_unlabelled --encoder unet-res16 --method genesis \\
                 --exclude train.csv --image-size 64 --epochs 20 --out runs/ssl_mr
  medtl train --data train.csv --task segmentation --encoder unet-res16 --weights runs/ssl_mr \\
              --strategy finetune --set model.pretrained_decoder=true --out runs/seg
"""


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("pretrain", help="self-supervised pretraining on unlabelled scans",
                       description="Pretrain an encoder (and a U-Net decoder) without labels by restoring corrupted "
                                   "scans (Models Genesis) or predicting masked patches (masked image modelling). "
                                   "The output is a model directory for `medtl train --weights DIR`. Defaults: "
                                   "configs/pretrain.yaml; precedence: defaults < --config < --set < flags.",
                       epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", metavar="FOLDER|MANIFEST.csv|FILE.npz",
                   help="unlabelled scans: a folder (DICOM, NIfTI, images), a manifest's image column, or an npz's "
                        "train images")
    p.add_argument("--encoder", help="encoder name (medtl weights)")
    p.add_argument("--weights", metavar="imagenet|none|MODEL_DIR",
                   help="start from these weights (imagenet: continued, domain-adaptive pretraining)")
    p.add_argument("--weights-dir", help="folder holding pretrained weight files")
    p.add_argument("--method", choices=("genesis", "mim"), help="self-supervised task (default genesis)")
    p.add_argument("--exclude", metavar="MANIFEST.csv",
                   help="never use the images this training manifest holds in its val or test split")
    p.add_argument("--out", metavar="DIR", help="output model directory")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--image-size", type=int, metavar="N", help="N x N (2D) or N x N x N (3D)")
    p.add_argument("--seed", type=int)
    p.add_argument("--config", metavar="FILE.yaml", help="config file (keys as in configs/pretrain.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override one config key, e.g. --set ssl.mask_ratio=0.5 (repeatable)")
    p.add_argument("--resume", action="store_true", default=None, help="continue DIR from its last checkpoint")
    p.add_argument("--quiet", action="store_true", default=None, help="plain log lines, no progress bars")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"))
    return p


def build_config(args):
    from medtl.cli.train import flag_overrides
    from medtl.pretrain.config import load_pretrain_config

    return load_pretrain_config(args.config, flag_overrides(args, FLAG_KEYS))


def run(args) -> int:
    from medtl.cli.train import print_summary
    from medtl.pretrain import pretrain

    cfg = build_config(args)
    result = pretrain(cfg)
    print_summary({"run_dir": str(result.run_dir), "val": result.metrics.get("val"),
                   "wall_time_s": result.metrics.get("wall_time_s"), "best_epoch": result.metrics.get("best_epoch")},
                  cfg.quiet)
    return 0
