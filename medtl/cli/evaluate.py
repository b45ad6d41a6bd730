"""``medtl evaluate``: recompute a model directory's metrics on any data."""

from __future__ import annotations

import argparse


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("evaluate", help="metrics of a trained model on a dataset",
                       description="Score a split of a manifest/npz with the model directory's stored "
                                   "preprocessing, temperature and threshold, and print its metrics.")
    p.add_argument("--model", required=True, metavar="RUN_DIR", help="model directory written by medtl train")
    p.add_argument("--data", required=True, metavar="MANIFEST.csv|FILE.npz")
    p.add_argument("--split", default="test", choices=("train", "val", "test", "all"))
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--tta", action="store_true",
                   help="flip test-time augmentation over the flips the model was trained with (as medtl score --tta)")
    p.add_argument("--tta-axes", type=int, nargs="+", metavar="AXIS",
                   help="with --tta: flip these spatial axes instead (0 = first spatial axis)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def run(args) -> int:
    import json

    from medtl.train import evaluate

    metrics = evaluate(args.model, args.data, split=args.split, batch_size=args.batch_size, device=args.device,
                       tta=args.tta, tta_axes=args.tta_axes)
    if args.json:
        print(json.dumps(metrics))
        return 0
    print(f"model {metrics['model_id'][:12]}  split {metrics['split']}  n={metrics.get('n')}")
    for key, value in metrics.items():
        if key in ("split", "model_id", "n") or (key == "tta_axes" and value is None):
            continue
        print(f"  {key:<20} {'n/a' if value is None else (f'{value:.4f}' if isinstance(value, float) else value)}")
    return 0
