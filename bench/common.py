"""Shared helpers of the benchmark scripts: machine info, training runs, statistics, subsets, results.

Every benchmark trains through medtl's one experiment harness, ``medtl compare`` (:func:`compare_runs`),
starting from a dataset's ``configs/<dataset>.yaml``; each run is an ordinary ``medtl train`` model
directory, so a row of a results table is reproduced by the ``medtl train`` command recorded beside
it. Work (comparison folders with their model directories, embedding caches, manifests) goes under
the ``--work`` folder; results (JSON, Markdown, PNG) go to ``--docs`` (docs/benchmarks/).
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medtl.compare.machine import load_avg_1m, machine_info, machine_line, utc_now  # noqa: F401 (re-exported)
from medtl.compare.report import markdown_table  # noqa: F401 (re-exported)
from medtl.compare.stats import fmt_mean_sd as fmt  # noqa: F401 (re-exported)
from medtl.compare.stats import mean_sd as mean_std  # noqa: F401 (re-exported)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
CONFIGS = ROOT / "configs"
DOCS = ROOT / "docs" / "benchmarks"


# ------------------------------------------------------------------ command line
def base_parser(description: str, *, seeds: Sequence[int] = (0, 1, 2), name: str = "bench") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", type=Path, help="dataset (default: the copy under ../shared/data)")
    p.add_argument("--work", type=Path, default=Path("/tmp/medtl-bench") / name,
                   help="folder for model directories, caches and subsets")
    p.add_argument("--docs", type=Path, default=DOCS, help="where results (JSON, Markdown, PNG) are written")
    p.add_argument("--seeds", type=int, nargs="+", default=list(seeds))
    p.add_argument("--merge", action="store_true",
                   help="add these runs to the existing results page: runs of other arms/seeds found in "
                        "DOCS/<name>.json are kept (e.g. one new arm or one more seed)")
    p.add_argument("--epochs", type=int, help="override the config's epochs (smoke tests)")
    p.add_argument("--image-size", type=int, help="override the config's image size (smoke tests)")
    p.add_argument("--encoder", help="override the config's encoder (smoke tests: tiny)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    return p


def add_tta_flag(p: argparse.ArgumentParser) -> None:
    """``--tta`` for benchmarks whose metric ``medtl evaluate`` computes (not DRIVE's FOV Dice)."""
    p.add_argument("--tta", action="store_true",
                   help="also score each run's test split with flip test-time augmentation (as `medtl evaluate "
                        "--tta`) and report it beside the plain result")


def tta_test(run_dir: Path, data: Path, *, device: str = "auto") -> dict:
    """Test metrics of a finished run with flip TTA over its training flips (``medtl evaluate --tta``).

    Kept in ``run_dir/bench_tta.json`` for the same data and weights, so a re-render does not rescore.
    """
    from medtl.fileio import atomic_write_json, sha256_file
    from medtl.train import evaluate

    run_dir = Path(run_dir)
    key = {"data": str(Path(data).resolve()), "weights_sha256": sha256_file(run_dir / "model.safetensors")}
    cache = run_dir / "bench_tta.json"
    if cache.is_file():
        held = json.loads(cache.read_text())
        if held.get("key") == key:
            return held["test"]
    metrics = evaluate(run_dir, data, split="test", device=device, tta=True)
    atomic_write_json(cache, {"key": key, "test": metrics})
    return metrics


def common_overrides(args) -> list[str]:
    """The overrides every run of a script gets from its command line."""
    out = [f"device={args.device}", "quiet=true"]
    if args.epochs:
        out.append(f"epochs={args.epochs}")
    if args.image_size:
        out.append(f"preprocess.image_size={args.image_size}")
    if args.encoder:
        out.append(f"model.encoder={args.encoder}")
        if args.encoder == "tiny":
            out.append("model.weights=none")
    return out


def other_encoder_arm(overrides: Sequence[str], args) -> list[str]:
    """An arm that switches to another encoder, unless the command line swapped the encoder (smoke tests)."""
    if not args.encoder:
        return list(overrides)
    kept = [o for o in overrides if not o.startswith(("model.encoder=", "model.weights=", "model.decoder_channels="))]
    return [*kept, "model.weights=none"]


# ------------------------------------------------------------------ machine
# machine_info / machine_line: medtl.compare.machine (the product records the same facts)


# ------------------------------------------------------------------ runs
def arm_spec(name: str, kind: str, *overrides: str, seeds: int | None = None) -> str:
    """A ``medtl compare`` arm: ``NAME=KIND:KEY=VALUE...``, ``seeds=N`` when it runs the first N seeds only."""
    return ":".join([f"{name}={kind}", *overrides, *([f"seeds={seeds}"] if seeds else [])])


def arm_name(spec: str) -> str:
    return spec.split(":", 1)[0].split("=", 1)[0]


def shown(path) -> str:
    """A path as a recorded command shows it: the repository's files relative to it (configs/...),
    the shared data as ../shared/data/... (both as a user types them from the repository), any other
    path (work folders under /tmp) absolute, so a command reads the same from any checkout."""
    if not (Path(path).is_absolute() or Path(path).exists()):
        return str(path)
    resolved = Path(path).resolve()
    for base, prefix in ((ROOT, ""), (DATA.resolve(), "../shared/data/")):
        if resolved.is_relative_to(base):
            return prefix + resolved.relative_to(base).as_posix()
    return str(resolved)


def compare_runs(arms: Sequence[str], config: Path, data: Path, out: Path, *, seeds: Sequence[int] = (0,),
                 extra: Sequence[str] = (), log=print) -> list[dict]:
    """Train every arm (``medtl compare`` arm specs, :func:`arm_spec`) with every seed on all the
    training labels of ``data``: one ``medtl compare`` in the folder ``out``, so a finished run is kept
    and an interrupted one continues from its last checkpoint. Returns its rows (metrics, run folder,
    start time and load, the run's ``medtl train`` command), arm by arm in the order of ``arms``.

    ``extra``: the script's command-line overrides (:func:`common_overrides`). An encoder swap (smoke
    tests) is a base setting that an arm may refine (e.g. ``model.weights=RUN_DIR``); device and quiet
    are compare's; everything else (``epochs=``, ``preprocess.image_size=``) wins over the arm's own.
    """
    from medtl.compare import CompareConfig, compare

    own = ("device=", "quiet=")
    base = [o for o in extra if o.startswith(("model.encoder=", "model.weights="))]
    last = [o for o in extra if o not in base and not o.startswith(own)]
    device = next((o.split("=", 1)[1] for o in reversed(extra) if o.startswith("device=")), None)
    cfg = CompareConfig(data=shown(data), out=str(Path(out).resolve()), config=shown(config),
                        arms=[":".join([a, *last]) for a in arms], fractions=[1.0], seeds=list(seeds),
                        overrides=base, resume=True, quiet=True, device=device, plots=False)
    with contextlib.chdir(ROOT):  # the recorded commands' relative paths start at the repository
        rows = compare(cfg, log=log).rows
    order = list(dict.fromkeys(r["arm"] for r in rows))  # every arm runs the first seed, in the order given
    return sorted(rows, key=lambda r: (order.index(r["arm"]), r["seed"]))


# ------------------------------------------------------------------ per-case metrics
def _label_map(path) -> np.ndarray:
    from medtl.data.read import read_scan

    return np.squeeze(np.rint(read_scan(path).array[0])).astype(np.int64)


def case_dice(pred: Path, truth: str, n_labels: int, fov: str | None = None) -> float:
    """Mean Dice over the foreground labels of a scored mask (``medtl score``'s NIfTI, on the input's
    grid) against the reference mask (1.0 when both are empty), inside ``fov`` if given."""
    p, t = _label_map(pred), _label_map(truth)
    keep = _label_map(fov) > 0 if fov else np.ones(t.shape, bool)
    dices = []
    for c in range(1, n_labels):
        a, b = (p == c) & keep, (t == c) & keep
        total = int(a.sum() + b.sum())
        dices.append(2.0 * int((a & b).sum()) / total if total else 1.0)
    return float(np.mean(dices))


# ------------------------------------------------------------------ statistics
def summarize(rows: list[dict], metrics: Sequence[str], *, split: str = "test", group: str = "arm") -> list[dict]:
    """Per group (in first-seen order): n, mean/std of each metric, mean wall time."""
    order: list = []
    for r in rows:
        if r[group] not in order:
            order.append(r[group])
    out = []
    for g in order:
        rs = [r for r in rows if r[group] == g]
        item = {group: g, "n": len(rs), "seeds": [r.get("seed") for r in rs]}
        for m in metrics:
            item[m] = mean_std([(r.get(split) or {}).get(m, float("nan")) for r in rs])
        item["wall_time_s"] = mean_std([r.get("wall_time_s") for r in rs])
        out.append(item)
    return out


def summary_table(summary: list[dict], metrics: Sequence[str], *, group: str = "arm") -> str:
    """One row per group; a ``<metric>_tta`` entry (flip TTA of the first metric) adds its column."""
    tta = f"{metrics[0]}_tta"
    with_tta = any(tta in s for s in summary)
    headers = [group, "n seeds", *[f"test {m}" for m in metrics], *([f"test {metrics[0]}, flip TTA"] if with_tta else []),
               "wall time (s)"]
    rows = [[s[group], s["n"], *[fmt(s[m], n=s["n"]) for m in metrics],
             *([(s[tta] if isinstance(s.get(tta), str) else fmt(s[tta], n=s["n"])) if tta in s else "not run"]
               if with_tta else []),
             fmt(s["wall_time_s"], 0, n=s["n"])] for s in summary]
    return markdown_table(headers, rows)


# ------------------------------------------------------------------ results
def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display on a benchmark machine)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    """Write ``fig`` as a PNG atomically, then close it."""
    from medtl.fileio import atomic_write

    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    pyplot().close(fig)


def write_results(docs: Path, name: str, payload: dict, markdown: str) -> tuple[Path, Path]:
    """``docs/<name>.json`` and ``docs/<name>.md``, written atomically.

    Hand-written notes on a page (how the runs went, what they mean, numbers measured outside the
    benchmark such as TTA) live in ``docs/notes/<name>.md`` and are appended to the page each time it
    is written, so re-running or merging a benchmark never drops them.
    """
    from medtl.fileio import atomic_write_json, atomic_write_text

    docs = Path(docs)
    docs.mkdir(parents=True, exist_ok=True)
    jpath, mpath = docs / f"{name}.json", docs / f"{name}.md"
    notes = docs / "notes" / f"{name}.md"
    if notes.is_file():
        markdown = markdown.rstrip("\n") + "\n\n" + notes.read_text(encoding="utf-8").strip("\n") + "\n"
    atomic_write_json(jpath, payload)
    atomic_write_text(mpath, markdown)
    return jpath, mpath


def commands_block(rows: list[dict]) -> str:
    cmds = [r["command"] for r in rows if r.get("command")]
    return "```\n" + "\n".join(cmds) + "\n```\n" if cmds else ""
