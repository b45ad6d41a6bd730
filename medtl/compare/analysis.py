"""From the runs of a comparison to its findings: per-fraction summaries, paired differences between
arms, and the recommendation (the cheapest arm within noise of the best)."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np

from medtl.compare.stats import PairedDifference, mean_sd, paired_difference

METRIC = {"classification": "auc", "segmentation": "dice"}


def load_cases(run_dir: str | Path) -> dict | None:
    from medtl.train.finalize import TEST_CASES

    path = Path(run_dir) / TEST_CASES
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def summarise(rows: list[dict], arms: list[str], fractions: list[float], metric: str) -> list[dict]:
    """One entry per (fraction, arm) that ran: n, seeds, mean/sd of the test metric, items, time."""
    out = []
    for f in fractions:
        for arm in arms:
            rs = [r for r in rows if r["arm"] == arm and r["fraction"] == f]
            if not rs:
                continue
            out.append({"fraction": f, "arm": arm, "n": len(rs), "seeds": sorted(r["seed"] for r in rs),
                        "n_train": int(np.median([r["n_train"] for r in rs])),
                        metric: mean_sd([(r.get("test") or {}).get(metric) for r in rs]),
                        "wall_time_s": mean_sd([r.get("wall_time_s") for r in rs])})
    return out


def load_all_cases(rows: list[dict]) -> dict[tuple[str, float], dict[int, dict]]:
    """(arm, fraction) -> seed -> the run's per-case test outputs, each file read once; every (arm,
    fraction) that ran has an entry, empty when none of its runs wrote test_cases.npz."""
    out: dict[tuple[str, float], dict[int, dict]] = {}
    for r in rows:
        found = out.setdefault((r["arm"], r["fraction"]), {})
        cases = load_cases(r["run_dir"])
        if cases is not None:
            found[r["seed"]] = cases
    return out


def pairs(cases: dict, arms: list[str], fractions: list[float], *, resamples: int, confidence: float) -> list[dict]:
    """Every pair of arms at every fraction where both ran: difference a - b and its interval."""
    out = []
    for f in fractions:
        present = [a for a in arms if (a, f) in cases]
        for a, b in combinations(present, 2):
            d = paired_difference(a, b, cases[(a, f)], cases[(b, f)], resamples=resamples, confidence=confidence)
            out.append({"fraction": f, **d.to_dict()})
    return out


TIME_TIE = 0.10  # run times within this share of the faster arm's are a tie, whatever the runs' sd


def recommend(summary: list[dict], pair_list: list[dict], metric: str, cases: dict, *, resamples: int,
              confidence: float, own_weights: frozenset[str] | set[str] = frozenset()) -> dict | None:
    """At the largest fraction run: the best arm by mean, the arms not separable from it, and the
    cheapest of those (mean wall time); then the smallest fraction at which that arm is not separable
    from its own result at the largest fraction (how many labels it needs).

    Run times are noisy too (a shared machine, another job's load): an arm whose mean time per run is
    within the run-to-run spread of the fastest candidate's (the larger of the two arms' sd over seeds,
    and at least ``TIME_TIE`` of the faster time) is as cheap. Among those, an arm that needs no weights
    of its own (``own_weights``: the arms that start from a pretraining or weight file the user has to
    make or fetch) is preferred, then the faster one."""
    if not summary:
        return None
    top_f = max(s["fraction"] for s in summary)
    at_top = [s for s in summary if s["fraction"] == top_f and np.isfinite(s[metric][0])]
    if not at_top:
        return None
    best = max(at_top, key=lambda s: s[metric][0])
    within = [best]
    for s in at_top:
        if s is best:
            continue
        p = next((p for p in pair_list if p["fraction"] == top_f and {p["a"], p["b"]} == {s["arm"], best["arm"]}),
                 None)
        if p is not None and not p["separable"] and np.isfinite(p["diff"]):
            within.append(s)
    fastest = min(within, key=_time)
    tied = [s for s in within if s is fastest or _same_time(s, fastest)]
    chosen = min(tied, key=lambda s: (s["arm"] in own_weights, _time(s)))
    needs = _labels_needed(chosen["arm"], top_f, summary, cases, resamples=resamples, confidence=confidence)
    return {"arm": chosen["arm"], "fraction": top_f, metric: chosen[metric], "n": chosen["n"], "best": best["arm"],
            "within_noise": [s["arm"] for s in within], "wall_time_s": chosen["wall_time_s"], "labels_needed": needs,
            "fastest": fastest["arm"], "fastest_time_s": fastest["wall_time_s"],
            "time_tied": [s["arm"] for s in tied if s is not chosen],
            "own_weights": chosen["arm"] in own_weights}


def _time(s: dict) -> float:
    m = s["wall_time_s"][0]
    return float(m) if np.isfinite(m) else np.inf


def _same_time(s: dict, fastest: dict) -> bool:
    """Is ``s``'s mean time per run within the run-to-run spread of ``fastest``'s?"""
    t, t0 = _time(s), _time(fastest)
    if not (np.isfinite(t) and np.isfinite(t0)):
        return False
    sds = [float(x["wall_time_s"][1]) for x in (s, fastest) if np.isfinite(x["wall_time_s"][1])]
    return t - t0 <= max([TIME_TIE * t0, *sds])


def _labels_needed(arm: str, top_f: float, summary: list[dict], cases: dict, *, resamples: int,
                   confidence: float) -> dict | None:
    full = cases.get((arm, top_f), {})
    for s in sorted((s for s in summary if s["arm"] == arm and s["fraction"] < top_f), key=lambda s: s["fraction"]):
        d: PairedDifference = paired_difference(f"{arm}@{s['fraction']:g}", f"{arm}@{top_f:g}",
                                                cases.get((arm, s["fraction"]), {}), full,
                                                resamples=resamples, confidence=confidence)
        if np.isfinite(d.diff) and not d.separable:
            return {"fraction": s["fraction"], "n_train": s["n_train"], **d.to_dict()}
    return None


def analyse(rows: list[dict], arms: list[str], fractions: list[float], task: str, *, resamples: int = 2000,
            confidence: float = 0.95, own_weights: frozenset[str] | set[str] = frozenset()) -> dict:
    metric = METRIC[task]
    summary = summarise(rows, arms, fractions, metric)
    cases = load_all_cases(rows)
    pair_list = pairs(cases, arms, fractions, resamples=resamples, confidence=confidence)
    rec = recommend(summary, pair_list, metric, cases, resamples=resamples, confidence=confidence,
                    own_weights=own_weights)
    times = {a: mean_sd([r.get("wall_time_s") for r in rows if r["arm"] == a]) for a in arms}
    totals = {a: float(sum(r.get("wall_time_s") or 0.0 for r in rows if r["arm"] == a)) for a in arms}
    return {"metric": metric, "summary": summary, "pairs": pair_list, "recommendation": rec,
            "time_per_run_s": times, "time_total_s": totals, "confidence": confidence, "resamples": resamples}
