"""The README's main job, end to end on the bundled sample_data/ (run by ``make demo``).

It runs the same ``medtl`` commands a user would type, in this process, and prints each one:
inspect the scans, fine-tune an ImageNet encoder on the small classification task, score the
images, train a small 3D segmentation model, score the volumes, and say how to open the review
app. Outputs go to ``demo_output/`` (or the folder given with ``--out``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from medtl.cli.main import main as medtl

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], ok_codes: tuple[int, ...] = (0,)) -> int:
    print(f"\n$ medtl {shlex.join(args)}", flush=True)
    t0 = time.perf_counter()
    code = medtl(args)
    print(f"  -> exit {code} in {time.perf_counter() - t0:.1f} s", flush=True)
    if code not in ok_codes:
        raise SystemExit(f"demo step failed: medtl {shlex.join(args)} (exit {code})")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(ROOT / "sample_data"))
    parser.add_argument("--out", default=str(ROOT / "demo_output"))
    args = parser.parse_args(argv)
    data, out = Path(args.data), Path(args.out)

    # 1. Read everything: DICOM series (one oblique, two in one folder), NIfTI, PNG.
    #    Exit 1 is expected: sample_data/ deliberately holds a few files that are not scans.
    run(["inspect", str(data)], ok_codes=(0, 1))

    # 2. Classification: fine-tune real ImageNet EfficientNet-Lite0 weights (LP-FT).
    cls_run = out / "classification_run"
    run(["train", "--data", str(data / "classification.csv"), "--task", "classification",
         "--encoder", "efficientnet-lite0", "--weights", "imagenet", "--strategy", "finetune",
         "--image-size", "64", "--epochs", "4", "--out", str(cls_run), "--quiet"])
    run(["score", "--model", str(cls_run), "--input", str(data / "images"),
         "--output", str(out / "classification_scores"), "--quiet"], ok_codes=(0, 1))

    # 3. Segmentation: a small 3D model on the NIfTI volumes, then masks in input geometry.
    seg_run = out / "segmentation_run"
    run(["train", "--data", str(data / "segmentation.csv"), "--task", "segmentation",
         "--encoder", "resnet18", "--weights", "none", "--strategy", "scratch",
         "--image-size", "32", "--epochs", "4", "--out", str(seg_run), "--quiet"])
    run(["score", "--model", str(seg_run), "--input", str(data / "nifti"),
         "--output", str(out / "segmentation_scores"), "--quiet"], ok_codes=(0, 1))

    print("\nDone. Review the predictions in the browser with:")
    print(f"  .venv/bin/medtl review --scores {out / 'classification_scores'}")
    print(f"  .venv/bin/medtl review --scores {out / 'segmentation_scores'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
