"""Self-supervised pretraining runs (``medtl pretrain``) on the benchmark datasets' training images.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_pretrain.py --dataset hippocampus --method genesis \
        --work /tmp/hb --merge
    # then the fine-tunes, e.g.
    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_label_efficiency.py --dataset hippocampus --arms scratch \
        --ssl /tmp/hb/ssl/genesis_hippocampus --fractions 0.1 0.25 --seeds 0 1 2 --merge

Each run calls the product's command on the dataset's *training* images only: the hippocampus
manifest's val and test cases are left out with ``--exclude`` (the same seeded split every
hippocampus benchmark uses), a MedMNIST npz contributes its train split only. A finished run is
reused (its recorded settings give the command). Results: docs/benchmarks/pretraining.{json,md}
(one row per dataset and method: scans, epochs, wall time, validation PSNR, the command).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from common import (
    CONFIGS,
    DATA,
    base_parser,
    common_overrides,
    load_avg_1m,
    machine_info,
    machine_line,
    markdown_table,
    shown,
    utc_now,
    write_results,
)
from manifests import hippocampus_manifest
from strategy import merged_rows

DATASETS = {  # data: the dataset as the other benchmarks take it (--data); hippocampus: its root folder
    "hippocampus": {"config": "pretrain_hippocampus.yaml", "data": DATA / "msd_hippocampus"},
    "adrenalmnist3d_64": {"config": "pretrain_adrenal64.yaml", "data": DATA / "adrenalmnist3d" / "adrenalmnist3d_64.npz"},
    "breastmnist_64": {"config": "pretrain_breastmnist64.yaml", "data": DATA / "breastmnist" / "breastmnist_64.npz"},
}


def run_dir(work: Path, dataset: str, method: str) -> Path:
    return Path(work) / "ssl" / f"{method}_{dataset}"


def pretrain_run(dataset: str, method: str, work: Path, extra: list[str], data: Path | None = None,
                 log=print) -> dict:
    """Run (or reuse) one pretraining and return its row."""
    from medtl.cli.main import main as medtl

    spec = DATASETS[dataset]
    out = run_dir(work, dataset, method)
    data = Path(data or spec["data"])
    unlabelled = data / "images" if dataset == "hippocampus" else data
    args = ["pretrain", "--config", str(CONFIGS / spec["config"]), "--data", str(unlabelled),
            "--method", method, "--out", str(out), "--quiet"]
    if dataset == "hippocampus":  # the val/test cases of the split every hippocampus benchmark uses
        args += ["--exclude", str(hippocampus_manifest(data, Path(work) / "hippo_full"))]
    for item in extra:
        args += ["--set", item]
    stamp = {}
    if not (out / "model.json").is_file():
        log("$ medtl " + shlex.join(args))
        stamp = {"started_utc": utc_now(), "load_avg_1m_start": load_avg_1m()}
        if medtl([*args, "--resume"] if (out / "checkpoints").is_dir() else args) != 0:
            raise SystemExit(f"medtl pretrain failed for {dataset} ({method})")
        stamp.update(finished_utc=utc_now(), load_avg_1m_end=load_avg_1m())
    info = json.loads((out / "model.json").read_text())
    p = info["pretraining"]
    # paths as a reader can reuse them (the repository's configs relative); options and names as they are
    parts = [shown(a) if Path(a).is_absolute() else a for a in args if a != "--quiet"]
    return {"dataset": dataset, "method": method, "encoder": info["model"]["encoder"],
            "weights": info["model"]["weights"], "run_dir": str(out), "n_scans": p["n_scans"],
            "excluded": p["excluded"], "epochs": p["epochs"], "best_epoch": p["best_epoch"],
            "val_psnr": p["val_psnr"], "wall_time_s": p["wall_time_s"], "created": info["created"], **stamp,
            "command": "medtl " + shlex.join(parts)}


def main(argv=None) -> int:
    p = base_parser(__doc__.splitlines()[0], name="pretrain", seeds=(0,))
    p.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    p.add_argument("--method", choices=("genesis", "mim"), default="genesis")
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE")
    args = p.parse_args(argv)
    extra = [*common_overrides(args), *args.overrides]
    rows = [pretrain_run(args.dataset, args.method, args.work, extra, data=args.data)]
    docs = Path(args.docs)
    if args.merge:
        rows = merged_rows(docs / "pretraining.json", rows, key=("dataset", "method", "encoder"))
    info = machine_info()
    table = markdown_table(
        ["dataset", "method", "encoder (start)", "scans", "excluded (val/test)", "epochs", "best epoch",
         "val PSNR (dB)", "wall time (min)", "1-min load (start, end)"],
        [[r["dataset"], r["method"], f"{r['encoder']} ({r['weights']})", r["n_scans"], r["excluded"], r["epochs"],
          r["best_epoch"], f"{r['val_psnr']:.2f}" if r["val_psnr"] is not None else "-",
          f"{r['wall_time_s'] / 60:.1f}", f"{r.get('load_avg_1m_start', '?')}, {r.get('load_avg_1m_end', '?')}"]
         for r in rows])
    md = (f"# Self-supervised pretraining runs\n\nMachine: {machine_line(info)}\n\n"
          "Each run restores (genesis) or completes (mim) the held-out unlabelled scans; the PSNR is on "
          "those corrupted scans, not a downstream result. What the runs are worth downstream is on the "
          "label-efficiency pages (arm `ssl`) and in docs/pretraining.md.\n\n"
          f"{table}\n\nCommands:\n\n```\n" + "\n".join(r["command"] for r in rows) + "\n```\n")
    write_results(docs, "pretraining", {"benchmark": "pretraining", "machine": info, "runs": rows}, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
