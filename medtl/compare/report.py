"""The transfer report of a comparison: ``report.md``, the same as a self-contained ``report.html``
(the plot inline), ``label_efficiency.png`` and ``results.json``.

The report is built once as a list of blocks (heading, paragraph, table, image, code) and rendered to
both formats, so the two never disagree.
"""

from __future__ import annotations

import base64
import html
import math
import shlex
from pathlib import Path

from medtl.compare.analysis import TIME_TIE, analyse
from medtl.compare.arms import needs_own_weights
from medtl.compare.config import train_command
from medtl.compare.machine import machine_info, machine_line
from medtl.compare.plan import arm_seeds, fraction_label
from medtl.compare.stats import fmt_mean_sd

PLOT = "label_efficiency.png"


def markdown_table(headers, rows) -> str:
    """A Markdown table (one line per row, cells as ``str``), ending in a newline."""
    lines = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _signed(v: float) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:+.3f}"


def compare_command(cfg) -> str:
    parts = ["medtl", "compare", "--data", str(cfg.data), "--out", str(cfg.out)]
    if cfg.task:
        parts += ["--task", cfg.task]
    if cfg.config:
        parts += ["--config", str(cfg.config)]
    parts += ["--arms", *cfg.arms, "--fractions", ",".join(f"{f:g}" for f in cfg.fractions),
              "--seeds", ",".join(str(s) for s in cfg.seeds)]
    for item in cfg.overrides:
        parts += ["--set", item]
    if cfg.budget_minutes:
        parts += ["--budget-minutes", f"{cfg.budget_minutes:g}"]
    return shlex.join(parts)


def final_command(cfg, arm, out_hint: str) -> str:
    """``medtl train`` for the recommended arm on all the training labels."""
    return train_command(cfg, [*cfg.overrides, *arm.overrides], out_hint, None)


def plot_label_efficiency(summary: list[dict], arms: list[str], metric: str, path: Path, title: str) -> Path | None:
    """Test metric vs labelled training items, one line per arm, a band of +/- 1 sd over seeds."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    from medtl.fileio import atomic_write

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, arm in enumerate(arms):
        pts = sorted((s["n_train"], *s[metric]) for s in summary if s["arm"] == arm and math.isfinite(s[metric][0]))
        if not pts:
            continue
        xs, ms, ss = (list(v) for v in zip(*pts))
        ax.plot(xs, ms, marker="o", color=f"C{i}", label=arm)
        ax.fill_between(xs, [m - s for m, s in zip(ms, ss)], [m + s for m, s in zip(ms, ss)], color=f"C{i}",
                        alpha=0.18, linewidth=0)
    ns = sorted({s["n_train"] for s in summary})
    if ns and max(ns) > 3 * max(1, min(ns)):
        ax.set_xscale("log")
        ax.minorticks_off()
    ax.set_xticks(ns, labels=[str(n) for n in ns])
    ax.set_xlabel("labelled training cases")
    ax.set_ylabel(f"test {metric}")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)
    return path


def build_blocks(cfg, base, arms, analysis: dict, rows: list[dict], skipped: list[dict], counts: dict,
                 machine: dict, plot: Path | None, warnings: list[str] = ()) -> list[tuple]:
    metric, summary, pair_list = analysis["metric"], analysis["summary"], analysis["pairs"]
    conf = round(100 * analysis["confidence"])
    n_seeds = {a.name: len(arm_seeds(a, cfg.seeds)) for a in arms}
    planned = len(cfg.fractions) * sum(n_seeds.values())
    fewer = [f"{name} {n}" for name, n in n_seeds.items() if n < len(cfg.seeds)]
    total_s = sum(r.get("wall_time_s") or 0.0 for r in rows)
    b: list[tuple] = [("h1", f"Transfer report: {Path(cfg.data).name}")]
    b.append(("p", f"Task: {base.task}; metric: test {metric} (higher is better); encoder {base.model.encoder}. "
                   f"{len(rows)} of {planned} runs ({len(arms)} arms x {len(cfg.fractions)} label fractions x "
                   f"{len(cfg.seeds)} seeds" + (f"; fewer seeds by the arm's seeds=N: {', '.join(fewer)}" if fewer else "")
                   + f"), {total_s / 60:.1f} min of training. Validation and test splits are "
                   f"the same for every run; each seed draws its own nested subset of the training labels."))
    b.append(("p", f"Machine: {machine_line(machine)}"))
    for w in warnings:
        b.append(("p", f"**Warning**: {w}."))
    b.append(("h2", "Recommendation"))
    b.append(("p", _recommendation_text(analysis, arms, cfg)))
    rec = analysis.get("recommendation")
    if rec:
        arm = next(a for a in arms if a.name == rec["arm"])
        b.append(("code", final_command(cfg, arm, f"models/{arm.name}")))
    b.append(("h2", "Label efficiency"))
    if plot is not None:
        b.append(("img", plot, f"test {metric} vs labelled cases"))
    else:
        b.append(("p", "(no plot: matplotlib is not available or plots were turned off)"))
    for f in cfg.fractions:
        entries = [s for s in summary if s["fraction"] == f]
        b.append(("h2", f"{fraction_label(f)} of the training labels ({counts.get(f, '?')} cases)"))
        if not entries:
            b.append(("p", "No run finished at this fraction."))
            continue
        b.append(("table", ["arm", "runs", f"test {metric} (mean ± sd)", "time per run (s)"],
                  [[s["arm"], s["n"], fmt_mean_sd(s[metric], n=s["n"]), fmt_mean_sd(s["wall_time_s"], 0, n=s["n"])] for s in entries]))
        ps = [p for p in pair_list if p["fraction"] == f]
        if ps:
            b.append(("table", ["a - b", f"difference in test {metric}", f"{conf} % interval", "verdict"],
                      [[f"{p['a']} - {p['b']}", _signed(p["diff"]), f"[{_signed(p['low'])}, {_signed(p['high'])}]",
                        p["verdict"]] for p in ps]))
    b.append(("h2", "Time per arm"))
    b.append(("table", ["arm", "runs", "mean time per run (s)", "total (min)"],
              [[a.name, sum(1 for r in rows if r["arm"] == a.name), fmt_mean_sd(analysis["time_per_run_s"][a.name], 0, n=1),
                f"{analysis['time_total_s'][a.name] / 60:.1f}"] for a in arms]))
    if skipped or len(rows) < planned:
        b.append(("h2", "Runs not in this report"))
        missing = planned - len(rows)
        text = f"{missing} planned run(s) did not run"
        budget = sum(1 for s in skipped if s["reason"] == "budget")
        if budget:
            text += f"; {budget} skipped to stay within --budget-minutes {cfg.budget_minutes:g}"
        if len(skipped) > budget:
            text += f"; {len(skipped) - budget} not trained (--report-only)"
        b.append(("p", text + ". `medtl compare ... --resume` (with a larger or no budget) adds them; finished runs "
                              "are kept."))
    b.append(("h2", "How to read this report"))
    b.append(("p", f"Each difference is arm a minus arm b, averaged over the seeds both ran, on the same test cases. "
                   f"The {conf} % interval is a paired bootstrap ({analysis['resamples']} resamples of the test cases "
                   "and of the seeds): where it covers 0 the two arms are *not separable* on this test set, however "
                   "different their means look. The recommendation is the cheapest arm (time per run) that is not "
                   "separable from the best one with the most labels (times within the run-to-run spread count as "
                   "equal, and then an arm that needs no pretrained weights of its own is preferred); 'labels "
                   "needed' is the smallest fraction at which that arm is not separable from its own result with "
                   "the most labels."))
    b.append(("h2", "Commands"))
    b.append(("p", "This comparison (every run is an ordinary `medtl train` model directory under runs/; "
                   "results.json has each run's own command):"))
    b.append(("code", compare_command(cfg)))
    return b


def _recommendation_text(analysis: dict, arms, cfg) -> str:
    rec, metric = analysis.get("recommendation"), analysis["metric"]
    if not rec:
        return "No recommendation: no run with a test result finished."
    conf = round(100 * analysis["confidence"])
    others = [a for a in rec["within_noise"] if a not in (rec["arm"], rec["best"])]
    text = (f"**{rec['arm']}**: test {metric} {fmt_mean_sd(rec[metric], n=rec.get('n', 2))} with {fraction_label(rec['fraction'])} of the "
            f"labels, {rec['wall_time_s'][0]:.0f} s per run. ")
    fastest = rec.get("fastest", rec["arm"])  # results.json written before the time tie have no "fastest"
    if rec["arm"] == rec["best"]:
        text += "It has the best mean" + (f"; not separable from it: {', '.join(others)}." if others else ".")
    else:
        text += f"It is not separable ({conf} % interval covers 0) from the best mean, {rec['best']}, and is "
        text += "cheaper" if fastest == rec["arm"] else "as cheap"
        text += f"; also not separable from the best: {', '.join(others)}." if others else "."
    if fastest != rec["arm"]:
        text += (f" {fastest} ran faster on average ({rec['fastest_time_s'][0]:.0f} s per run), but within the "
                 f"run-to-run spread of the times (the larger sd over seeds, at least {TIME_TIE:.0%} of the faster "
                 f"time), so the two are as cheap, and {rec['arm']} needs no pretrained weights of its own.")
    if len(arms) > 1 and rec["within_noise"] == [rec["best"]]:
        text += " Every other arm is separably worse at this fraction."
    need = rec.get("labels_needed")
    if need:
        text += (f" With {rec['arm']}, {fraction_label(need['fraction'])} of the labels ({need['n_train']} cases) was "
                 f"not separable from {fraction_label(rec['fraction'])} (difference {_signed(need['diff'])}, "
                 f"{conf} % interval [{_signed(need['low'])}, {_signed(need['high'])}]).")
    elif len(cfg.fractions) > 1:
        text += f" Every smaller fraction tried was separably worse with {rec['arm']}: more labels still help."
    return text


# ------------------------------------------------------------------ rendering
def render_md(blocks: list[tuple], out: Path) -> str:
    lines = []
    for kind, *rest in blocks:
        if kind in ("h1", "h2"):
            lines.append(("# " if kind == "h1" else "## ") + rest[0] + "\n")
        elif kind == "p":
            lines.append(rest[0] + "\n")
        elif kind == "code":
            lines.append("```\n" + rest[0] + "\n```\n")
        elif kind == "img":
            lines.append(f"![{rest[1]}]({Path(rest[0]).relative_to(out).as_posix()})\n")
        elif kind == "table":
            lines.append(markdown_table(*rest))
    return "\n".join(lines)


def _inline(text: str) -> str:
    """Markdown's **bold** and `code` in a paragraph, escaped for HTML."""
    import re

    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    t = re.sub(r"\*(.+?)\*", r"<em>\1</em>", t)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", t)


def render_html(blocks: list[tuple]) -> str:
    body = []
    for kind, *rest in blocks:
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{html.escape(rest[0])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{_inline(rest[0])}</p>")
        elif kind == "code":
            body.append(f"<pre><code>{html.escape(rest[0])}</code></pre>")
        elif kind == "img":
            data = base64.b64encode(Path(rest[0]).read_bytes()).decode("ascii")
            body.append(f'<img alt="{html.escape(rest[1])}" src="data:image/png;base64,{data}">')
        elif kind == "table":
            headers, rows = rest
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
            trs = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.4}"
             "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;"
             "text-align:left}pre{background:#f4f4f4;padding:.6em;overflow-x:auto}img{max-width:100%}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>medtl transfer report</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(out: Path, cfg, base, arms, rows: list[dict], skipped: list[dict], counts: dict, *,
                 warnings: list[str] = (), log=print) -> tuple[dict, Path]:
    """Analyse the finished runs and write results.json, the plot and the report in both formats."""
    from medtl.fileio import atomic_write_json, atomic_write_text

    names = [a.name for a in arms]
    analysis = analyse(rows, names, list(cfg.fractions), base.task, resamples=cfg.bootstrap,
                       confidence=cfg.confidence, own_weights={a.name for a in arms if needs_own_weights(a, base)})
    machine = machine_info()
    plot = None
    if cfg.plots and analysis["summary"]:
        plot = plot_label_efficiency(analysis["summary"], names, analysis["metric"], out / PLOT,
                                     f"{Path(cfg.data).name}: {base.task}, {base.model.encoder}")
    atomic_write_json(out / "results.json", {"task": base.task, "metric": analysis["metric"], "machine": machine,
                                             "command": compare_command(cfg), "runs": rows, "skipped": skipped,
                                             "warnings": list(warnings),
                                             "train_counts": {f"{f:g}": n for f, n in counts.items()},
                                             "analysis": analysis})
    blocks = build_blocks(cfg, base, arms, analysis, rows, skipped, counts, machine, plot, list(warnings))
    atomic_write_text(out / "report.md", render_md(blocks, out))
    atomic_write_text(out / "report.html", render_html(blocks))
    log(f"report: {out / 'report.md'} (and report.html, results.json)")
    return analysis, out / "report.md"
