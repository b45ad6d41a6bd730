"""The README's main job, end to end on the bundled sample_data/ (run by ``make demo``).

It runs the same ``medtl`` commands a user would type, in this process, and prints each one:
inspect the scans, compare two ways of transferring an ImageNet encoder to the small
classification task (linear probe vs fine-tuning, at 25 % and 100 % of the labels: ``medtl
compare``), score the images with the recommended model, fine-tune the same ImageNet encoder inflated to 3D on the small CT segmentation task,
score the volumes, and say how to open the review app. The training settings live in
``configs/demo_classification.yaml`` and ``configs/demo_segmentation.yaml`` (``--config``).
Outputs go to ``demo_output/`` (or the folder given with ``--out``); the demo's own subfolders
from an earlier run are removed first, so it can be run again.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from medtl.cli.main import main as medtl

ROOT = Path(__file__).resolve().parents[1]
# The demo's own subfolders of --out: the only things it deletes before running again.
OUTPUTS = ("classification_compare", "classification_scores", "segmentation_run", "segmentation_scores",
           "embedding_cache")


def shown(path: Path) -> str:
    """``path`` relative to the current folder when it is under it, so printed commands stay short."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) else str(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def medtl_command() -> str:
    """How the user calls medtl from here: this environment's console script when it exists."""
    script = Path(sys.executable).parent / "medtl"
    return shown(script) if script.is_file() else "medtl"


def run(args: list[str], ok_codes: tuple[int, ...] = (0,)) -> int:
    print(f"\n$ {medtl_command()} {shlex.join(args)}", flush=True)
    t0 = time.perf_counter()
    code = medtl(args)
    print(f"  -> exit {code} in {time.perf_counter() - t0:.1f} s", flush=True)
    if code not in ok_codes:
        raise SystemExit(f"demo step failed: medtl {shlex.join(args)} (exit {code})")
    return code


def clean(out: Path) -> None:
    """Remove the demo's outputs of an earlier run (training refuses an existing run folder)."""
    old = [out / name for name in OUTPUTS if (out / name).exists()]
    if old:
        print(f"Removing the previous demo outputs in {shown(out)}: {', '.join(p.name for p in old)}")
    for path in old:
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "n/a"


def recommended_run(compare_dir: Path) -> Path:
    """The comparison's recommended arm, trained on all the labels (seed 0): a model directory."""
    results = _read_json(compare_dir / "results.json")
    arm = ((results.get("analysis") or {}).get("recommendation") or {}).get("arm")
    if not arm:
        raise SystemExit(f"demo step failed: no recommendation in {compare_dir / 'results.json'}")
    return compare_dir / "runs" / arm / "1" / "seed0"


def summary(out: Path, wall_s: float) -> str:
    cls_run = recommended_run(out / "classification_compare")
    cls = _read_json(cls_run / "metrics.json").get("test", {})
    seg = _read_json(out / "segmentation_run" / "metrics.json").get("test", {})
    lines = [f"\nSummary ({wall_s:.0f} s in all)",
             f"  classification ({cls_run.parts[-3]}, recommended by the comparison), test split "
             f"(n={cls.get('n', '?')}): AUC {_fmt(cls.get('auc'))}, accuracy {_fmt(cls.get('accuracy'))}",
             f"  transfer report: {shown(out / 'classification_compare' / 'report.html')}",
             f"  segmentation, test split (n={seg.get('n', '?')}): Dice {_fmt(seg.get('dice'))}"]
    for name in ("classification_scores", "segmentation_scores"):
        counts = _read_json(out / name / "run_manifest.json").get("counts", {})
        lines.append(f"  {name}: {counts.get('ok', '?')} of {counts.get('total', '?')} cases scored"
                     + (f", {counts['failed']} failed" if counts.get("failed") else ""))
    lines.append("\nReview the predictions in the browser (http://127.0.0.1:8501) with:")
    for name in ("classification_scores", "segmentation_scores"):
        lines.append(f"  {medtl_command()} review --scores {shlex.quote(shown(out / name))}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "sample_data"))
    parser.add_argument("--out", default=str(ROOT / "demo_output"))
    args = parser.parse_args(argv)
    data, out = Path(args.data), Path(args.out)
    t0 = time.perf_counter()
    clean(out)

    # 1. Read everything: DICOM series (one oblique, two in one folder), NIfTI, PNG.
    #    Exit 1 is expected: sample_data/ deliberately holds a few files that are not scans.
    run(["inspect", shown(data)], ok_codes=(0, 1))

    # 2. Classification: which transfer strategy, and how many labels? Real ImageNet
    #    EfficientNet-Lite0 weights as a frozen feature extractor (linear probe) vs fine-tuned
    #    (LP-FT), each at 25 % and 100 % of the training labels (one seed and 3 fine-tuning epochs
    #    instead of the config's 6, to keep the demo short: a demo, not a verdict). Every run is a
    #    model directory; the recommended arm's full-data run scores the images. The embedding
    #    cache goes to the demo's folder, not to ~/.cache.
    cmp = out / "classification_compare"
    run(["compare", "--config", shown(ROOT / "configs" / "demo_classification.yaml"),
         "--data", shown(data / "classification.csv"), "--out", shown(cmp), "--arms", "linear-probe", "finetune",
         "--fractions", "0.25,1", "--seeds", "1", "--quiet", "--set", "epochs=3",
         "--set", f"linear_probe.cache_dir={shown(out / 'embedding_cache')}"])
    cls_run = recommended_run(cmp)
    run(["score", "--model", shown(cls_run), "--input", shown(data / "images"),
         "--output", shown(out / "classification_scores"), "--quiet"], ok_codes=(0, 1))

    # 3. Segmentation: the same ImageNet encoder inflated to 3D, fine-tuned with a U-Net decoder
    #    on the CT volumes; scoring writes the masks in each input's own geometry.
    seg_run = out / "segmentation_run"
    run(["train", "--config", shown(ROOT / "configs" / "demo_segmentation.yaml"),
         "--data", shown(data / "segmentation.csv"), "--out", shown(seg_run), "--quiet"])
    run(["score", "--model", shown(seg_run), "--input", shown(data / "nifti"),
         "--output", shown(out / "segmentation_scores"), "--quiet"], ok_codes=(0, 1))

    print(summary(out, time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
