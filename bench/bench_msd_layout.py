"""``medtl train --data FOLDER`` on MSD Hippocampus arranged in the MSD/nnU-Net raw layout.

The 260 pairs of ../shared/data/msd_hippocampus are linked into ``WORK/Task04_Hippocampus``
(imagesTr/, labelsTr/, dataset.json) and trained with the console command, no manifest and no
``--task``: the layout gives the task (segmentation), the label names and the modality, and the
split is medtl's automatic seeded split (not the fixed 187/21/52 split of bench_hippocampus.py, so
the numbers are a check that the path works, not a comparison). The config is
configs/hippocampus.yaml without its ``task`` key; a short run (``--epochs``, default 2).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml
from common import CONFIGS, DATA, DOCS, machine_info, machine_line, markdown_table, write_results
from manifests import msd_layout


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA / "msd_hippocampus", help="images/ + labels/ folder")
    p.add_argument("--work", type=Path, default=Path("/tmp/medtl-bench") / "msd_layout")
    p.add_argument("--docs", type=Path, default=DOCS)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                   help="extra `medtl train --set` items (smoke tests: a tiny encoder, a small image size)")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    work = args.work.resolve()
    folder = msd_layout(args.data, work / "Task04_Hippocampus")
    config = yaml.safe_load((CONFIGS / "hippocampus.yaml").read_text())
    config.pop("task")
    cfg_path = work / "hippocampus_no_task.yaml"
    cfg_path.write_text(yaml.safe_dump(config, sort_keys=False))
    out = work / "run"
    if out.exists():  # a fresh run each time (the work folder is this script's own)
        shutil.rmtree(out)
    cmd = ["medtl", "train", "--data", str(folder), "--config", str(cfg_path), "--out", str(out),
           "--epochs", str(args.epochs), "--device", args.device, "--quiet"]
    for item in args.overrides:
        cmd += ["--set", item]
    info = machine_info()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "medtl.cli.main", *cmd[1:]],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
        return proc.returncode
    model = json.loads((out / "model.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    layout_line = next((ln.split("data: ", 1)[1] for ln in (proc.stdout + proc.stderr).splitlines()
                        if "data: found" in ln), None)
    counts = model["training"]["data"]["counts"]
    payload = {"machine": info, "command": shlex.join(cmd), "wall_s": round(wall, 1), "layout": layout_line,
               "task": model["task"], "label_names": model["label_names"], "counts": counts,
               "modality": model["training"]["data"]["modality"], "val": metrics["val"], "test": metrics["test"],
               "epochs": metrics["epochs"], "train_wall_time_s": metrics.get("wall_time_s")}
    write_results(args.docs, "msd_layout", payload, render(payload))
    print(json.dumps({k: payload[k] for k in ("wall_s", "task", "counts", "test")}))
    return 0


def render(p: dict) -> str:
    t = p["test"] or {}
    row = [p["task"], ", ".join(p["label_names"]), p["modality"] or "-",
           f"{p['counts']['train']}/{p['counts']['val']}/{p['counts']['test']}", p["epochs"],
           f"{t.get('dice', float('nan')):.3f}", f"{t.get('dice_Anterior', float('nan')):.3f}",
           f"{t.get('dice_Posterior', float('nan')):.3f}", f"{p['wall_s']:.0f}"]
    table = markdown_table(["task (inferred)", "label names (dataset.json)", "modality", "train/val/test", "epochs",
                            "test dice", "anterior", "posterior", "wall s (whole command)"], [row])
    return (f"# `medtl train --data` on an MSD-layout folder (Hippocampus)\n\n"
            f"Machine: {machine_line(p['machine'])}\n\n```\n{p['command']}\n```\n\n"
            f"Layout line printed: `{p['layout']}`\n\n{table}\n\n"
            "A short run to check the path from a raw MSD folder to a model directory; the split is medtl's "
            "automatic seeded one, so the Dice is not comparable with docs/benchmarks/hippocampus.md "
            "(30 epochs, fixed split).\n")


if __name__ == "__main__":
    sys.exit(main())
