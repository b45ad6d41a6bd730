"""Strategy comparison on one dataset at all its labels: arms x seeds -> results page (JSON + Markdown).

Used by the per-dataset scripts (bench_breastmnist.py, bench_retinamnist.py, bench_adrenal.py,
bench_hippocampus.py, bench_drive.py). The experiment is ``medtl compare`` with the label fraction 1
(:func:`common.compare_runs`): each arm is a compare arm spec on the page's config, every run an
ordinary ``medtl train`` model directory under ``WORK/<page>/runs/<arm>/1/seed<k>``, kept when it
already finished (an interrupted benchmark continues where it stopped); ``WORK/<page>/report.md``
adds compare's paired differences between the arms. What is the benchmark's own: the dataset's
preparation, per-run metrics computed from the model directory (``post``, e.g. DRIVE's FOV Dice),
flip TTA scores (``--tta``) and the page (:func:`report`).

Pages rendered before the scripts called ``medtl compare`` (commit 16a6b7e and earlier) name run
folders ``WORK/runs/<arm>/seed<k>``; their per-run ``medtl train`` commands still train the same
models. The commands compare records add ``data.label_fraction=1`` and ``data.label_seed=<k>``, which
change nothing with all the labels (same data fingerprint, items and model; tests/train/test_label_fraction.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from common import (
    arm_name,
    arm_spec,
    commands_block,
    compare_runs,
    machine_info,
    machine_line,
    markdown_table,
    pyplot,
    save_figure,
    summarize,
    summary_table,
    tta_test,
    write_results,
)


def run_arms(arms: Sequence[str], config: Path, data: Path, out: Path, seeds: Sequence[int], *,
             extra: Sequence[str] = (), post: Callable[[dict], dict] | None = None, tta: bool = False,
             device: str = "auto", log=print) -> list[dict]:
    """Train every (arm, seed) as one ``medtl compare`` in ``out``; ``post(row)`` may add metrics
    computed from the model directory; ``tta`` adds ``test_tta``, the test metrics with flip
    test-time augmentation."""
    # Per-arm embedding cache shared by the arm's seeds: arms differ in augmentation, which the cache key does not cover.
    arms = [f"{a}:linear_probe.cache_dir={Path(out).resolve() / 'embeddings' / arm_name(a)}" for a in arms]
    rows = compare_runs(arms, config, data, out, seeds=seeds, extra=extra, log=log)
    for i, row in enumerate(rows):
        if post is not None:
            row = rows[i] = post(row)
        if tta:
            row["test_tta"] = tta_test(Path(row["run_dir"]), data, device=device)
        log(f"[{row['arm']} seed {row['seed']}] test {_short(row.get('test'))} ({row['wall_time_s']:.0f} s)")
    return rows


def strategy_arms(config: Path, *, scratch: Sequence[str] = (), probe: Sequence[str] = (),
                  finetune: Sequence[str] = (),
                  which: Sequence[str] = ("scratch", "linear-probe", "finetune")) -> list[str]:
    """The three strategies on one config (compare arm specs): scratch (random init), linear probe,
    fine-tune (the config's)."""
    from medtl.train import load_config

    if load_config(config).task == "segmentation":
        # a frozen encoder under a decoder that trains: seeded and augmented like any other run
        probe_arm = arm_spec("linear-probe", "linear-probe", *probe)
    else:  # a probe on frozen features of unaugmented images is deterministic: one run stands for every seed
        probe_arm = arm_spec("linear-probe", "linear-probe", "augment.enabled=false", *probe, seeds=1)
    arms = {"scratch": arm_spec("scratch", "scratch", *scratch), "linear-probe": probe_arm,
            "finetune": arm_spec("finetune", "finetune", *finetune)}
    return [arms[w] for w in which]


def _short(test: dict | None) -> str:
    if not test:
        return "-"
    keys = [k for k in ("auc", "accuracy", "dice", "dice_fov") if k in test]
    return " ".join(f"{k} {test[k]:.4f}" for k in keys)


def merged_rows(path: Path, rows: list[dict], key: Sequence[str] = ("arm", "seed")) -> list[dict]:
    """The runs of the published results file ``path`` whose ``key`` (e.g. arm and seed) was not
    rerun, then ``rows``: adding one arm or one seed to a published table without retraining the rest."""
    if not Path(path).is_file():
        return rows
    new = {tuple(r[k] for k in key) for r in rows}
    kept = [r for r in json.loads(Path(path).read_text())["runs"] if tuple(r[k] for k in key) not in new]
    return kept + rows


def report(name: str, title: str, rows: list[dict], metrics: Sequence[str], docs: Path, *, intro: str = "",
           references: Sequence[tuple[str, str]] = (), notes: str = "", merge: bool = False) -> dict:
    """Summarise, write ``docs/<name>.json`` + ``.md``; returns the JSON payload. ``merge``: keep
    the existing page's runs that were not rerun (:func:`merged_rows`)."""
    if merge:
        rows = merged_rows(Path(docs) / f"{name}.json", rows)
        order = list(dict.fromkeys(r["arm"] for r in rows))
        rows = sorted(rows, key=lambda r: (order.index(r["arm"]), r["seed"]))
    info = machine_info()
    summary = summarize(rows, metrics)
    tta_rows = [r for r in rows if r.get("test_tta")]
    if tta_rows:  # the first metric with flip TTA, over the runs that have it
        by_arm = {s["arm"]: s for s in summarize(tta_rows, metrics[:1], split="test_tta")}
        for s in summary:
            if s["arm"] in by_arm:  # a merged page may hold runs scored before --tta existed
                t = by_arm[s["arm"]]
                s[f"{metrics[0]}_tta"] = t[metrics[0]] if t["n"] == s["n"] else f"{t['n']} of {s['n']} runs"
    md = [f"# {title}\n", intro + "\n" if intro else "", f"Machine: {machine_line(info)}\n",
          summary_table(summary, metrics), f"\n![test {metrics[0]} per arm]({name}.png)\n"]
    if references:
        md.append("\nPublished references (test split):\n\n" + markdown_table(["model", "result"], references))
    tta_col = [f"test {metrics[0]}, flip TTA"] if tta_rows else []
    per_seed = [[r["arm"], r["seed"], *[_num((r.get("test") or {}).get(m)) for m in metrics],
                 *([_num((r.get("test_tta") or {}).get(metrics[0]))] if tta_rows else []),
                 _num((r.get("val") or {}).get(metrics[0])), r.get("epochs"), r.get("best_epoch", "?"),
                 f"{r['wall_time_s']:.0f}",
                 r.get("started_utc", "?"), r.get("load_avg_1m_start", "?")] for r in rows]
    md.append("\nPer run (selected epoch: best validation metric, 0 = the probe-initialised model before any "
              "fine-tuning step; wall time includes embedding, training, calibration and evaluation; the 1-min "
              "load average at the start shows how busy the shared machine was):\n\n"
              + markdown_table(["arm", "seed", *[f"test {m}" for m in metrics], *tta_col, f"val {metrics[0]}", "epochs",
                                "selected epoch", "wall s", "started", "load"], per_seed))
    if notes:
        md.append("\n" + notes + "\n")
    md.append("\nCommands (`medtl train`, one per run):\n\n" + commands_block(rows))
    payload = {"benchmark": name, "title": title, "machine": info, "metrics": list(metrics),
               "summary": summary, "runs": rows, "references": [list(r) for r in references]}
    write_results(docs, name, payload, "\n".join(md))
    plot_arms(payload, Path(docs) / f"{name}.png")
    return payload


def plot_arms(payload: dict, path: Path) -> None:
    """The page's first metric per arm: each run's test value (dots) beside the mean +/- std."""
    metric, summary, runs = payload["metrics"][0], payload["summary"], payload["runs"]
    fig, ax = pyplot().subplots(figsize=(1.6 + 1.2 * len(summary), 3.6))
    for i, s in enumerate(summary):
        mean, std = s[metric]
        vals = [(r.get("test") or {}).get(metric) for r in runs if r["arm"] == s["arm"]]
        vals = [v for v in vals if v is not None]
        ax.plot([i - 0.12] * len(vals), vals, "o", color="C0", ms=4, alpha=0.7)
        ax.errorbar(i + 0.08, mean, yerr=std if s["n"] > 1 else None, fmt="s", color="C1", ms=6, capsize=5)
        ax.annotate(f"{mean:.3f}", (i + 0.08, mean), textcoords="offset points", xytext=(10, -3), fontsize=8)
    lows = [(r.get("test") or {}).get(metric) for r in runs]
    lo = min(v for v in lows if v is not None)
    ax.set_xlim(-0.6, len(summary) - 0.3)
    ax.set_ylim(max(0.0, lo - 0.05), min(1.0, max(s[metric][0] + s[metric][1] for s in summary) + 0.05))
    ax.set_xticks(range(len(summary)), labels=[f"{s['arm']}\n(n={s['n']})" for s in summary], fontsize=8)
    ax.set_ylabel(f"test {metric}")
    ax.set_title(payload["title"], fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, path)


def _num(v) -> str:
    return "n/a" if v is None else f"{v:.4f}"
