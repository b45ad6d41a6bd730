"""``compare(cfg)``: train every (arm, label fraction, seed) as an ordinary ``medtl train`` run and
write the transfer report.

Layout of ``cfg.out``::

    compare.json            what was asked (config, arms, plan); rewritten on --resume
    runs/<arm>/<fraction>/seed<k>/   one medtl model directory per run, plus compare_run.json:
                            when it started and finished, the 1-min load then, seconds to the model
    results.json            every run's metrics, paths and commands; skipped runs and why
    report.md, report.html  the report (medtl.compare.report); label_efficiency.png

A finished run (its ``metrics.json`` exists) is never retrained; with ``--resume`` an interrupted
one continues from its last checkpoint, so a killed comparison loses at most the run in progress.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from medtl.compare.arms import Arm, default_arm_specs, parse_arms, random_init_warning
from medtl.compare.config import CompareConfig, train_command
from medtl.compare.plan import Estimator, RunSpec, plan_runs
from medtl.errors import ConfigError

MANIFEST = "compare.json"
RUN_STAMP = "compare_run.json"  # in each run folder: when and on how busy a machine it trained


@dataclass
class CompareResult:
    out: Path
    rows: list[dict]
    skipped: list[dict] = field(default_factory=list)
    analysis: dict = field(default_factory=dict)
    report: Path | None = None


def base_config(cfg: CompareConfig, extra: list = ()):
    """The base ``medtl train`` config of every run; ``extra``: one run's own overrides (its arm, label
    fraction, seed, folder), which win over the base's but not over ``--task``/``--device``."""
    from medtl.train import load_config

    overrides = [*cfg.overrides, ("data.path", cfg.data), *extra]
    if cfg.task:
        overrides.append(("task", cfg.task))
    if cfg.device:
        overrides.append(("device", cfg.device))
    return load_config(cfg.config, overrides)


def _check_out(cfg: CompareConfig) -> Path:
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise ConfigError("the output path exists and is not a folder", path=out)
    if out.is_dir() and any(out.iterdir()) and not (cfg.resume or cfg.report_only):
        what = "holds a comparison" if (out / MANIFEST).is_file() else "is not empty"
        raise ConfigError(f"the output folder {what}; pass --resume to continue it or choose another --out", path=out)
    if cfg.report_only and not (out / MANIFEST).is_file():
        raise ConfigError(f"--report-only: no {MANIFEST} here, so there are no runs to report", path=out)
    if cfg.resume and out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise ConfigError(f"--resume: no {MANIFEST} here, so this is not a medtl compare folder", path=out)
    return out


def train_counts(base, fractions: list[float], seed: int) -> dict[float, int]:
    """Training items at each fraction (the same for every seed: per-stratum sizes are fixed).
    Reading the data here also reports a bad --data before any training starts."""
    from medtl.data import load_source
    from medtl.data.subsets import label_subset

    source = load_source(base.data.path, task=base.task, seed=base.data.seed, val_fraction=base.data.val_fraction,
                         test_fraction=base.data.test_fraction)
    if not source.records.get("test"):
        raise ConfigError("the data has no test split: a comparison needs test cases (set data.test_fraction > 0 "
                          "or give the manifest a test split)", path=base.data.path)
    train = source.records["train"]
    return {f: len(label_subset(train, base.task, f, seed)) for f in fractions}


def _own_overrides(spec: RunSpec) -> list[str]:
    """What one run sets over the base config: its arm's overrides, its label fraction and draw."""
    return [*spec.arm.overrides, f"data.label_fraction={spec.fraction:g}", f"data.label_seed={spec.seed}"]


def run_overrides(cfg: CompareConfig, spec: RunSpec) -> list[str]:
    """The ``--set`` overrides of one run's command, in precedence order (the arm's win over the base's)."""
    return [*cfg.overrides, *_own_overrides(spec)]


def _row(spec: RunSpec, metrics: dict, cfg: CompareConfig, n_train: int) -> dict:
    return {"arm": spec.arm.name, "kind": spec.arm.kind, "fraction": spec.fraction, "seed": spec.seed,
            "n_train": n_train, "run_dir": str(spec.out), "wall_time_s": metrics.get("wall_time_s"),
            "epochs": metrics.get("epochs"), "best_epoch": metrics.get("best_epoch"),
            "val": metrics.get("val"), "test": metrics.get("test"),
            **(_read_json(spec.out / RUN_STAMP) or {}),  # absent for a run trained before compare kept stamps
            "command": train_command(cfg, run_overrides(cfg, spec), spec.out, spec.seed)}


def _read_json(path: Path) -> dict | None:
    import json

    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # a damaged file: as if it were not there


def _finished(spec: RunSpec) -> dict | None:
    """The metrics of a finished run (a damaged metrics.json: the run is trained again)."""
    return _read_json(spec.out / "metrics.json")


def _n_train(spec: RunSpec, fallback: int) -> int:
    from medtl.models.io import read_model_info

    try:
        return int(read_model_info(spec.out)["training"]["data"]["counts"]["train"])
    except Exception:  # an older or partial directory: the planned count
        return fallback


def _train_one(cfg: CompareConfig, spec: RunSpec, estimator: Estimator, n_train: int, on_first_epoch) -> dict:
    from medtl.compare.machine import load_avg_1m, utc_now
    from medtl.fileio import atomic_write_json
    from medtl.train import train

    resume = spec.out.is_dir()
    run_cfg = base_config(cfg, [*_own_overrides(spec), ("seed", spec.seed), ("out", str(spec.out)),
                                ("resume", resume), *([("quiet", True)] if cfg.quiet else [])])
    stamp = {"started_utc": utc_now(), "load_avg_1m_start": load_avg_1m(), "resumed": resume}
    t0 = time.perf_counter()

    def on_epoch_end(epoch: int, row: dict) -> None:
        if epoch == 1:
            epoch_s = float(row.get("time_s") or 0.0)
            estimator.observe_first_epoch(spec.arm.name, n_train, time.perf_counter() - t0 - epoch_s, epoch_s,
                                          row.get("train_s"))
            on_first_epoch()

    metrics = train(run_cfg, on_epoch_end=on_epoch_end).metrics
    # time_to_model_s: the whole `medtl train` call (metrics' wall_time_s stops before the model is written)
    stamp.update(finished_utc=utc_now(), load_avg_1m_end=load_avg_1m(),
                 time_to_model_s=round(time.perf_counter() - t0, 2))
    atomic_write_json(spec.out / RUN_STAMP, stamp)
    return metrics


def compare(cfg: CompareConfig, *, log=print) -> CompareResult:
    """Run (or continue) the comparison ``cfg`` and write its report; returns what was done."""
    from medtl.compare.report import write_report
    from medtl.fileio import atomic_write_json

    cfg.validate()
    base = base_config(cfg)
    if not cfg.arms:
        cfg.arms, why = default_arm_specs(base)
        log(f"arms: {why}")
    arms = parse_arms(cfg.arms, base)
    warnings = [w for w in (random_init_warning(a, base) for a in arms) if w]
    for w in warnings:
        log(f"warning: {w}")
    out = _check_out(cfg)
    counts = train_counts(base, cfg.fractions, cfg.seeds[0])  # a bad --data fails before anything is written
    out.mkdir(parents=True, exist_ok=True)
    plan = plan_runs(arms, cfg.fractions, cfg.seeds, out)
    atomic_write_json(out / MANIFEST, {"config": cfg.to_dict(), "task": base.task,
                                       "arms": [_arm_dict(a) for a in arms],
                                       "train_counts": {f"{f:g}": n for f, n in counts.items()},
                                       "plan": [list(s.key) for s in plan]})
    log(f"compare: {len(arms)} arms x {len(cfg.fractions)} fractions x {len(cfg.seeds)} seeds = {len(plan)} runs "
        f"({base.task}; training items per fraction: "
        + ", ".join(f"{100 * f:g} % -> {n}" for f, n in counts.items()) + f") -> {out}")
    estimator = Estimator(base.epochs, {a.name: base_config(cfg, list(a.overrides)).data.min_samples_per_epoch
                                        for a in arms})
    rows, skipped = [], []
    earlier = {spec.key: _finished(spec) for spec in plan}  # metrics of the runs finished before this call
    for spec in plan:  # they teach the estimator before anything new is trained
        done = earlier[spec.key]
        if done is not None:
            estimator.observe_run(spec.arm.name, counts[spec.fraction], float(done.get("wall_time_s") or 0.0))
    budget_s = None if cfg.budget_minutes is None else 60.0 * cfg.budget_minutes
    t_start = time.monotonic()
    announced = [False]

    def announce() -> None:
        if budget_s is not None and not announced[0]:
            announced[0] = True
            _announce_budget(plan, estimator, counts, budget_s - (time.monotonic() - t_start), log)

    if any(done is not None for done in earlier.values()):
        announce()
    try:
        for i, spec in enumerate(plan, 1):
            done = earlier[spec.key]
            if done is not None:
                rows.append(_row(spec, done, cfg, _n_train(spec, counts[spec.fraction])))
                log(f"[{i}/{len(plan)}] {spec.label}: finished earlier, kept")
                continue
            if cfg.report_only:
                skipped.append({"arm": spec.arm.name, "fraction": spec.fraction, "seed": spec.seed,
                                "reason": "report-only", "estimate_s": None})
                continue
            if budget_s is not None:
                remaining = budget_s - (time.monotonic() - t_start)
                est = estimator.estimate(spec.arm.name, counts[spec.fraction])
                if remaining <= 0 or (est is not None and est > remaining):
                    skipped.append({"arm": spec.arm.name, "fraction": spec.fraction, "seed": spec.seed,
                                    "reason": "budget", "estimate_s": None if est is None else round(est, 1)})
                    log(f"[{i}/{len(plan)}] {spec.label}: skipped (budget: "
                        f"{'none left' if remaining <= 0 else f'needs ~{est / 60:.1f} min, {remaining / 60:.1f} left'})")
                    continue
            log(f"[{i}/{len(plan)}] {spec.label} -> {spec.out}")
            metrics = _train_one(cfg, spec, estimator, counts[spec.fraction], announce)
            n = _n_train(spec, counts[spec.fraction])
            estimator.observe_run(spec.arm.name, n, float(metrics.get("wall_time_s") or 0.0))
            announce()
            rows.append(_row(spec, metrics, cfg, n))
            log(f"[{i}/{len(plan)}] {spec.label}: test {_short(metrics, base.task)} "
                f"({metrics.get('wall_time_s', 0):.0f} s)")
    finally:  # also on Ctrl-C: the report of what finished
        analysis, report = write_report(out, cfg, base, arms, rows, skipped, counts, warnings=warnings, log=log)
    return CompareResult(out, rows, skipped, analysis, report)


def _arm_dict(arm: Arm) -> dict:
    return {"name": arm.name, "kind": arm.kind, "overrides": list(arm.overrides), "user": list(arm.user),
            "source": arm.source, "seeds": arm.seeds}


def _short(metrics: dict, task: str) -> str:
    from medtl.compare.analysis import METRIC

    key = METRIC[task]
    value = (metrics.get("test") or {}).get(key)
    return f"{key} {value:.4f}" if isinstance(value, (int, float)) else f"{key} n/a"


def _announce_budget(plan: list[RunSpec], estimator: Estimator, counts: dict, remaining_s: float, log) -> None:
    """Up front: which of the runs still to do fit the remaining budget (in plan order)."""
    todo = [s for s in plan if _finished(s) is None]
    total, fit = 0.0, []
    for spec in todo:
        est = estimator.estimate(spec.arm.name, counts[spec.fraction])
        if est is None:
            continue
        if total + est <= remaining_s:
            total += est
            fit.append(spec)
    rest = len(todo) - len(fit)
    log(f"budget: about {len(fit)} of the {len(todo)} runs still to do fit in {remaining_s / 60:.1f} min "
        f"(estimated {total / 60:.1f} min from the runs and epochs measured so far)"
        + (f"; {rest} will be skipped unless runs go faster" if rest else ""))
