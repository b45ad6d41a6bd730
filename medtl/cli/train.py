"""``medtl train``: train a model (scratch / linear-probe / finetune) into a model directory."""

from __future__ import annotations

import argparse

# flag attribute -> config key (flags given on the command line override --config and --set)
FLAG_KEYS = {
    "data": "data.path",
    "task": "task",
    "encoder": "model.encoder",
    "weights": "model.weights",
    "weights_dir": "model.weights_dir",
    "strategy": "strategy",
    "out": "out",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "image_size": "preprocess.image_size",
    "seed": "seed",
    "init_from": "init_from",
    "device": "device",
}


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train a model and write a model directory",
                       description="Train a classification or segmentation model with a transfer-learning "
                                   "strategy. Defaults: configs/default.yaml; precedence: defaults < --config "
                                   "< --set < flags.")
    p.add_argument("--data", metavar="MANIFEST.csv|FILE.npz|FOLDER",
                   help="training data: manifest CSV, MedMNIST npz, or a dataset folder (MSD/nnU-Net, class "
                        "folders, <stem>_mask siblings, images/ + masks/; its task is inferred when --task is not given)")
    p.add_argument("--task", choices=("classification", "segmentation"))
    p.add_argument("--encoder", help="encoder name (medtl weights --list)")
    p.add_argument("--weights", metavar="imagenet|medicalnet|none|PATH", help="initial encoder weights")
    p.add_argument("--weights-dir", help="folder holding pretrained weight files")
    p.add_argument("--strategy", choices=("scratch", "linear-probe", "finetune"))
    p.add_argument("--out", metavar="RUN_DIR", help="output model directory")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--image-size", type=int, metavar="N", help="N x N (2D) or N x N x N (3D)")
    p.add_argument("--seed", type=int)
    p.add_argument("--config", metavar="FILE.yaml", help="config file (keys as in configs/default.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override one config key, e.g. --set optim.lr=1e-4 (repeatable)")
    p.add_argument("--resume", action="store_true", default=None, help="continue RUN_DIR from its last checkpoint")
    p.add_argument("--quiet", action="store_true", default=None, help="plain log lines, no progress bars")
    p.add_argument("--init-from", metavar="RUN_DIR", help="start from an earlier run's weights")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"))
    return p


def flag_overrides(args, flag_keys: dict[str, str]) -> list:
    """``--set`` items, then every flag given (``flag_keys``: attribute -> config key), then the
    switches ``--resume``/``--quiet``: the precedence both ``medtl train`` and ``medtl pretrain`` use."""
    overrides = list(args.overrides)
    for attr, key in flag_keys.items():
        value = getattr(args, attr, None)
        if value is not None:
            overrides.append((key, value))
    for attr in ("resume", "quiet"):
        if getattr(args, attr, None):
            overrides.append((attr, True))
    return overrides


def print_summary(summary: dict, quiet: bool) -> None:
    """The run's JSON summary on stdout (under torchrun from rank 0 only)."""
    import json
    import os
    import sys

    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(summary, indent=None if quiet else 2), file=sys.stdout)


def build_config(args):
    from medtl.train.config import load_config

    cfg = load_config(args.config, flag_overrides(args, FLAG_KEYS))
    return task_from_layout(args, cfg)


def task_from_layout(args, cfg):
    """``--data FOLDER`` with no task given anywhere: the task its layout implies (an MSD folder is
    segmentation); a folder that fits both tasks is refused naming ``--task``."""
    from pathlib import Path

    import yaml

    if args.task is not None or not cfg.data.path or not Path(cfg.data.path).is_dir():
        return cfg
    if any(str(o).replace(" ", "").startswith("task=") for o in args.overrides):
        return cfg
    if args.config and "task" in (yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}):
        return cfg
    from medtl.data.layouts import infer_layout

    cfg.task = infer_layout(cfg.data.path).task
    return cfg.validate()


def run(args) -> int:
    from medtl.train import train

    cfg = build_config(args)
    result = train(cfg)
    print_summary({"run_dir": str(result.run_dir), "val": result.metrics.get("val"),
                   "test": result.metrics.get("test"), "wall_time_s": result.metrics.get("wall_time_s")}, cfg.quiet)
    return 0
