"""DRIVE retinal vessels: ImageNet-pretrained encoder vs scratch; Dice inside the field-of-view mask.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_drive.py --seeds 0

Trains on 10 of the 20 official DRIVE test images (01-08 train, 09-10 validation) and tests on
11-20 (bench/manifests.py writes the manifest under --work). medtl's own Dice counts every pixel of
the image; the DRIVE convention counts only the field of view (FOV), so ``dice_fov`` is computed
here from the saved model directory: the FOV mask goes through the model's stored preprocessing
(nearest-neighbour), and Dice is taken on that grid inside it (per image, then the mean).
Results: docs/benchmarks/drive.{json,md}. Data: DRIVE (Staal et al. 2004, IEEE TMI 23(4):501),
research use with citation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from common import CONFIGS, DATA, base_parser, common_overrides
from manifests import drive_manifest, read_split_rows
from strategy import report, run_arms, strategy_arms

CONFIG = CONFIGS / "drive.yaml"
ARMS = ("scratch", "linear-probe", "finetune")


def fov_dice(run_dir: Path, manifest: Path, *, split: str = "test") -> dict:
    """Per-image Dice of the vessel class inside the FOV on the model's input grid: mean and pooled."""
    import torch

    from medtl.data import build_transforms
    from medtl.models import load_model_dir
    from medtl.models.inference import predict_logits

    loaded = load_model_dir(run_dir)
    tf = build_transforms(loaded.preprocess_config(), train=False, mask_key="mask")
    scores, inter, total = [], 0, 0
    for row in read_split_rows(manifest, split):
        fov_path = Path(row["mask"]).parents[1] / "fov" / Path(row["mask"]).name
        item = tf({"image": row["image"], "mask": row["mask"]})
        fov = np.asarray(tf({"image": row["image"], "mask": str(fov_path)})["mask"])[0] > 0
        with torch.no_grad():
            pred = predict_logits(loaded.model, torch.as_tensor(item["image"])[None].float()).argmax(1)[0].numpy() == 1
        gt = np.asarray(item["mask"])[0] == 1
        i, t = int((pred & gt & fov).sum()), int((pred & fov).sum() + (gt & fov).sum())
        scores.append(2 * i / t if t else 1.0)
        inter, total = inter + i, total + t
    return {"dice_fov": float(np.mean(scores)), "dice_fov_pooled": 2 * inter / total if total else float("nan"),
            "n_fov": len(scores)}


def main(argv=None) -> int:
    p = base_parser(__doc__.splitlines()[0], seeds=(0,), name="drive")
    p.add_argument("--arms", nargs="+", default=["scratch", "finetune"], choices=ARMS)
    args = p.parse_args(argv)
    manifest = drive_manifest(args.data or DATA / "drive_test", args.work)
    arms = strategy_arms(CONFIG, scratch=["optim.lr=0.002"], which=args.arms)  # segmentation: every seed

    def post(row: dict) -> dict:
        row["test"] = {**(row.get("test") or {}), **fov_dice(Path(row["run_dir"]), manifest)}
        return row

    rows = run_arms(arms, CONFIG, manifest, args.work / "drive", args.seeds, extra=common_overrides(args), post=post)
    report("drive", "DRIVE: retinal vessel segmentation", rows, ["dice_fov", "dice_fov_pooled", "dice"], args.docs,
           intro="Official DRIVE test images only (the training split is not available here): 01-08 train, 09-10 "
                 "validation, 11-20 test; 1st observer masks. Whole images at native resolution, zero-padded/cropped to 576x576; "
                 "`dice_fov` = vessel Dice inside the FOV mask on that grid (mean over the 10 test images), "
                 "`dice` = medtl's own vessel Dice over the whole image.", merge=args.merge)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
