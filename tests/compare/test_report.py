"""Report rendering and the recommendation's wording on constructed results."""

from __future__ import annotations

from types import SimpleNamespace

from medtl.compare.analysis import recommend
from medtl.compare.arms import Arm
from medtl.compare.report import _recommendation_text, render_html, render_md


def _summary(arm, f, mean, time_s, n_train, time_sd=1.0):
    return {"fraction": f, "arm": arm, "n": 3, "seeds": [0, 1, 2], "n_train": n_train, "auc": (mean, 0.01),
            "wall_time_s": (time_s, time_sd)}


def _pair(f, a, b, diff, low, high):
    sep = low > 0 or high < 0
    return {"fraction": f, "a": a, "b": b, "diff": diff, "low": low, "high": high, "separable": sep,
            "verdict": "not separable" if not sep else (f"{a} better" if diff > 0 else f"{b} better")}


def test_the_cheapest_arm_within_noise_of_the_best_is_recommended():
    summary = [_summary("scratch", 1.0, 0.80, 100, 500), _summary("linear-probe", 1.0, 0.90, 20, 500),
               _summary("finetune", 1.0, 0.91, 300, 500)]
    pairs = [_pair(1.0, "scratch", "finetune", -0.11, -0.15, -0.07),
             _pair(1.0, "linear-probe", "finetune", -0.01, -0.03, 0.02),
             _pair(1.0, "scratch", "linear-probe", -0.10, -0.14, -0.06)]
    rec = recommend(summary, pairs, "auc", cases={}, resamples=200, confidence=0.95)
    assert rec["arm"] == "linear-probe" and rec["best"] == "finetune"
    assert rec["within_noise"] == ["finetune", "linear-probe"] and rec["labels_needed"] is None
    arms = [Arm("scratch", "scratch", ()), Arm("linear-probe", "linear-probe", ()), Arm("finetune", "finetune", ())]
    text = _recommendation_text({"recommendation": rec, "metric": "auc", "confidence": 0.95}, arms,
                                SimpleNamespace(fractions=[1.0]))
    assert text.startswith("**linear-probe**") and "not separable" in text and "finetune" in text


def test_a_separably_best_arm_is_recommended_even_if_slow():
    summary = [_summary("scratch", 1.0, 0.70, 10, 500), _summary("finetune", 1.0, 0.90, 300, 500)]
    pairs = [_pair(1.0, "scratch", "finetune", -0.2, -0.25, -0.15)]
    rec = recommend(summary, pairs, "auc", cases={}, resamples=200, confidence=0.95)
    assert rec["arm"] == "finetune" and rec["within_noise"] == ["finetune"]
    text = _recommendation_text({"recommendation": rec, "metric": "auc", "confidence": 0.95},
                                [Arm("scratch", "scratch", ()), Arm("finetune", "finetune", ())],
                                SimpleNamespace(fractions=[1.0]))
    assert "separably worse" in text


def test_times_within_the_run_to_run_spread_are_a_tie_won_by_the_arm_without_own_weights():
    # the hippocampus report at 100 %: three arms level on Dice, the frozen self-supervised encoder 2 %
    # faster than scratch, whose own three runs spread far more than that
    summary = [_summary("scratch", 1.0, 0.871, 1873, 187, time_sd=155),
               _summary("linear-probe", 1.0, 0.867, 1834, 187, time_sd=40),
               _summary("ssl", 1.0, 0.869, 1900, 187, time_sd=30)]
    pairs = [_pair(1.0, "scratch", "linear-probe", 0.004, -0.001, 0.009),
             _pair(1.0, "scratch", "ssl", 0.002, -0.002, 0.005),
             _pair(1.0, "linear-probe", "ssl", -0.002, -0.006, 0.002)]
    kw = dict(cases={}, resamples=200, confidence=0.95)
    rec = recommend(summary, pairs, "auc", **kw, own_weights={"linear-probe", "ssl"})
    assert rec["arm"] == "scratch" and rec["fastest"] == "linear-probe" and rec["own_weights"] is False
    assert sorted(rec["time_tied"]) == ["linear-probe", "ssl"]
    arms = [Arm("scratch", "scratch", ()), Arm("linear-probe", "linear-probe", ()), Arm("ssl", "pretrained", ())]
    text = _recommendation_text({"recommendation": rec, "metric": "auc", "confidence": 0.95}, arms,
                                SimpleNamespace(fractions=[1.0]))
    assert text.startswith("**scratch**") and "linear-probe ran faster on average (1834 s per run)" in text
    assert "needs no pretrained weights of its own" in text
    # without the tie rule's reason to prefer it (no arm needs weights of its own) the faster one wins
    assert recommend(summary, pairs, "auc", **kw)["arm"] == "linear-probe"
    # a time difference beyond the spread is a real saving: the faster arm wins despite its own weights
    summary[1] = _summary("linear-probe", 1.0, 0.867, 900, 187, time_sd=40)
    rec = recommend(summary, pairs, "auc", **kw, own_weights={"linear-probe", "ssl"})
    assert rec["arm"] == "linear-probe" and rec["time_tied"] == [] and rec["fastest"] == "linear-probe"
    text = _recommendation_text({"recommendation": rec, "metric": "auc", "confidence": 0.95}, arms,
                                SimpleNamespace(fractions=[1.0]))
    assert "ran faster" not in text and "and is cheaper" in text


def test_a_single_run_per_arm_ties_within_ten_percent():
    summary = [_summary("scratch", 1.0, 0.80, 100, 50, time_sd=float("nan")),
               _summary("ssl", 1.0, 0.81, 95, 50, time_sd=float("nan"))]
    pairs = [_pair(1.0, "scratch", "ssl", -0.01, -0.03, 0.01)]
    kw = dict(cases={}, resamples=200, confidence=0.95, own_weights={"ssl"})
    assert recommend(summary, pairs, "auc", **kw)["arm"] == "scratch"  # 5 % faster: a tie
    summary[1] = _summary("ssl", 1.0, 0.81, 85, 50, time_sd=float("nan"))
    assert recommend(summary, pairs, "auc", **kw)["arm"] == "ssl"  # 15 % faster: cheaper


def test_render_md_and_html_escape_and_inline(tmp_path):
    png = tmp_path / "p.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    blocks = [("h1", "Report <x>"), ("p", "**bold** and `code` & more"), ("table", ["a", "b"], [["<1>", 2]]),
              ("img", png, "plot"), ("code", "medtl compare --data 'a b'")]
    md = render_md(blocks, tmp_path)
    assert "# Report <x>" in md and "| <1> | 2 |" in md and "![plot](p.png)" in md
    html = render_html(blocks)
    assert "<h1>Report &lt;x&gt;</h1>" in html and "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert "&amp; more" in html and "<td>&lt;1&gt;</td>" in html and "data:image/png;base64," in html
    assert render_html([b for b in blocks if b[0] != "img"]).count("<img") == 0
