"""Build docs/benchmarks/README.md from the results present (each benchmark's .md/.json).

A benchmark whose results file is missing is listed as NOT RUN, never estimated. A hand-written
``docs/benchmarks/NOTES.md`` (discussion of the numbers), when present, is included at the top.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from common import DOCS, machine_line


@dataclass
class Bench:
    key: str
    script: str
    name: str  # results file stem in docs/benchmarks
    title: str
    args: list[str] = field(default_factory=list)


# Priority order (run_all.py runs them in this order).
BENCHMARKS = [
    Bench("breastmnist", "bench_breastmnist.py", "breastmnist", "BreastMNIST: scratch vs linear probe vs fine-tune"),
    Bench("speed", "bench_speed.py", "speed", "Speed: probe vs fine-tune, input cache, step overhead"),
    Bench("hippocampus", "bench_hippocampus.py", "hippocampus", "MSD Hippocampus 3D segmentation"),
    Bench("label_efficiency_breastmnist", "bench_label_efficiency.py", "label_efficiency_breastmnist",
          "Label efficiency, BreastMNIST", ["--dataset", "breastmnist"]),
    Bench("adrenalmnist3d", "bench_adrenal.py", "adrenalmnist3d", "AdrenalMNIST3D: 3D transfer",
          ["--pretrained", "{work}/hippocampus/hippocampus/runs/unet-scratch/1/seed0"]),
    Bench("drive", "bench_drive.py", "drive", "DRIVE vessel segmentation"),
    Bench("retinamnist", "bench_retinamnist.py", "retinamnist", "RetinaMNIST 5-class"),
    Bench("label_efficiency_hippocampus", "bench_label_efficiency.py", "label_efficiency_hippocampus",
          "Label efficiency, hippocampus", ["--dataset", "hippocampus", "--seeds", "2",
                                             "--pretrained", "{work}/adrenalmnist3d/adrenalmnist3d/runs/scratch/1/seed0"]),
    Bench("pretraining_hippocampus", "bench_pretrain.py", "pretraining", "Self-supervised pretraining runs",
          ["--dataset", "hippocampus", "--merge"]),
    Bench("pretraining_breastmnist_64", "bench_pretrain.py", "pretraining", "Self-supervised pretraining runs",
          ["--dataset", "breastmnist_64", "--merge"]),
    Bench("label_efficiency_hippocampus_ssl", "bench_label_efficiency.py", "label_efficiency_hippocampus",
          "Label efficiency, hippocampus: the ssl arm", ["--dataset", "hippocampus", "--arms", "scratch",
                                                         "--fractions", "0.1", "0.25", "--merge", "--ssl",
                                                         "{work}/pretraining_hippocampus/ssl/genesis_hippocampus"]),
    Bench("label_efficiency_breastmnist_64", "bench_label_efficiency.py", "label_efficiency_breastmnist_64",
          "Transfer report (medtl compare), BreastMNIST 64 px", ["--dataset", "breastmnist_64", "--fractions", "0.1",
                                                                 "0.25", "1", "--budget-minutes", "80"]),
    Bench("label_efficiency_hippocampus_compare", "bench_label_efficiency.py", "label_efficiency_hippocampus_compare",
          "Transfer report (medtl compare), hippocampus: self-supervised vs scratch",
          ["--dataset", "hippocampus", "--arms", "scratch", "--fractions", "0.1", "0.25", "--budget-minutes", "75",
           "--page", "label_efficiency_hippocampus_compare", "--ssl",
           "{work}/pretraining_hippocampus/ssl/genesis_hippocampus"]),
    Bench("breastmnist_64", "bench_breastmnist.py", "breastmnist_64", "BreastMNIST 64 px: ImageNet vs + SSL",
          ["--size", "64", "--arms", "finetune", "finetune-lite1", "finetune-lite2", "ssl", "--ssl",
           "{work}/pretraining_breastmnist_64/ssl/genesis_breastmnist_64"]),
    Bench("label_efficiency_hippocampus_steps", "bench_label_efficiency.py", "label_efficiency_hippocampus_steps",
          "Transfer report (medtl compare), hippocampus with enough optimiser steps: self-supervised "
          "fine-tune vs frozen self-supervised encoder vs scratch",
          ["--dataset", "hippocampus", "--arms", "scratch", "linear-probe", "--fractions", "0.1", "0.25", "1",
           "--set", "data.min_samples_per_epoch=64", "--page", "label_efficiency_hippocampus_steps",
           "--pretrained", "{work}/pretraining_hippocampus/ssl/genesis_hippocampus", "--ssl",
           "{work}/pretraining_hippocampus/ssl/genesis_hippocampus"]),
    Bench("pretraining_hippocampus_mim", "bench_pretrain.py", "pretraining", "Self-supervised pretraining runs",
          ["--dataset", "hippocampus", "--method", "mim", "--merge"]),
    Bench("label_efficiency_hippocampus_mim", "bench_label_efficiency.py", "label_efficiency_hippocampus_mim",
          "Transfer report (medtl compare), hippocampus: fine-tuning from masked image modelling",
          ["--dataset", "hippocampus", "--arms", "--fractions", "0.1", "0.25", "1", "--set",
           "data.min_samples_per_epoch=64", "--page", "label_efficiency_hippocampus_mim", "--ssl",
           "{work}/pretraining_hippocampus_mim/ssl/mim_hippocampus", "--ssl-arm", "ssl-mim"]),
    Bench("triage", "bench_triage.py", "triage", "Segmentation triage: uncertainty and quality flags vs Dice"),
    Bench("active_learning_segmentation", "bench_continual.py", "active_learning_segmentation",
          "Active learning for segmentation: uncertainty / flags-first / random picks", ["active-seg"]),
    Bench("msd_layout", "bench_msd_layout.py", "msd_layout", "Training straight from a raw MSD folder (layout inference)"),
]

CITATIONS = """\
## Datasets (cite when using these numbers)

- BreastMNIST, RetinaMNIST, AdrenalMNIST3D: MedMNIST v2 (Yang et al. 2023, *Scientific Data* 10:41),
  CC BY 4.0; BreastMNIST derives from Al-Dhabyani et al. 2020 (*Data in Brief* 28:104863).
- MSD Task04 Hippocampus: Simpson et al. 2019 (arXiv:1902.09063), Antonelli et al. 2022
  (*Nature Communications* 13:4128), CC BY-SA 4.0.
- DRIVE: Staal et al. 2004 (*IEEE TMI* 23(4):501-509), research use with citation.
"""


def _demote(md: str) -> str:
    """Headings one level down per ``#`` so a benchmark's page nests under the README."""
    return re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", md, flags=re.M)


def write_readme(docs: Path = DOCS) -> Path:
    from medtl.fileio import atomic_write_text

    docs = Path(docs)
    parts = ["# medtl benchmarks on real data\n",
             "Produced by the scripts in `bench/` (issue #6) through medtl's public API: every training run "
             "goes through `medtl compare` (`medtl.compare.compare`; the pages at all the labels are a "
             "comparison at the label fraction 1), and each run is an ordinary `medtl train --config` model "
             "directory. "
             "Run everything with `OMP_NUM_THREADS=2 .venv/bin/python bench/run_all.py` (the same commands "
             "use a GPU when one is present: `-- --device cuda`). Each results table lists the machine, "
             "and each run its `medtl train` command; the best configuration per dataset is "
             "`configs/<dataset>.yaml`. A page's closing notes are hand-written in `notes/<page>.md` and "
             "appended each time the page is rendered.\n"]
    notes = docs / "NOTES.md"
    if notes.is_file():
        parts.append(_demote(notes.read_text(encoding="utf-8")))
    status = []
    for b in BENCHMARKS:
        res = docs / f"{b.name}.json"
        cmd = " ".join(["python", f"bench/{b.script}", *b.args]).replace("{work}", "/tmp/medtl-bench")
        payload = json.loads(res.read_text(encoding="utf-8")) if res.is_file() else {}
        when = payload.get("machine", {}).get("date_utc", "-")
        state = "**NOT RUN**"
        if payload:
            summary = payload.get("summary") or []
            seeds = sorted({s.get("n") for s in summary if isinstance(s, dict)})
            state = f"run: {len(summary)} arms/points, {'/'.join(map(str, seeds))} seed(s) each" if summary else "run"
        status.append(f"| {b.title} | {state} | `{cmd}` | {when} |")
    parts.append("## Status\n\n| benchmark | status | command | when |\n|---|---|---|---|\n" + "\n".join(status) + "\n")
    shown = set()
    for b in BENCHMARKS:
        md = docs / f"{b.name}.md"
        if md.is_file() and b.name not in shown:  # several entries may add to one page
            shown.add(b.name)
            parts.append(_demote(md.read_text(encoding="utf-8")))
    mine = {f"{b.name}.md" for b in BENCHMARKS} | {"README.md", "NOTES.md"}
    others = sorted(p.name for p in docs.glob("*.md") if p.name not in mine)
    if others:  # pages written by other scripts (e.g. bench/bench_continual.py, issue #7)
        parts.append("## Other benchmark pages in this folder\n\n" + "\n".join(f"- [{o}]({o})" for o in others) + "\n")
    machines = {machine_line(json.loads((docs / f"{b.name}.json").read_text(encoding="utf-8"))["machine"])
                for b in BENCHMARKS if (docs / f"{b.name}.json").is_file()}
    if machines:
        parts.append("## Machines\n\n" + "\n".join(f"- {m}" for m in sorted(machines)) + "\n")
    parts.append(CITATIONS)
    path = docs / "README.md"
    atomic_write_text(path, "\n".join(parts))
    return path


if __name__ == "__main__":
    print(write_readme())
