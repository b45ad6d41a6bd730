"""Active-learning selection from a scoring output folder."""

from __future__ import annotations

import csv
import sqlite3

import pytest

from medtl.continual.select import OUTPUT_COLUMNS, reviewed_case_ids, select_cases
from medtl.errors import DataError, MedtlError


@pytest.fixture
def scores(tmp_path, write_predictions, pred_row):
    row = pred_row
    rows = [row("c", 0.20, 0.9), row("a", 0.90, 0.6), row("e", 0.50, 0.7), row("b", 0.50, 0.6),
            row("d", 0.50, 0.6), row("f", 0.99, None, status="failed"), row("g", 0.10, 0.95)]
    return write_predictions(tmp_path / "out", rows)


def test_uncertainty_order_and_ties(scores):
    picked = select_cases(scores, 4)
    # highest uncertainty first; ties broken by lowest confidence then case_id; failed f skipped
    assert [r["case_id"] for r in picked] == ["a", "b", "d", "e"]
    assert [r["rank"] for r in picked] == [1, 2, 3, 4]
    assert picked[0] == {"case_id": "a", "source": "a.png", "predicted_label": "benign", "uncertainty": 0.9,
                         "flags": "", "rank": 1}


def test_budget_larger_than_available(scores):
    picked = select_cases(scores, 100)
    assert [r["case_id"] for r in picked] == ["a", "b", "d", "e", "c", "g"]


def test_random_is_seeded_and_order_independent(scores, tmp_path, write_predictions):
    first = [r["case_id"] for r in select_cases(scores, 3, strategy="random", seed=5)]
    assert first == [r["case_id"] for r in select_cases(scores, 3, strategy="random", seed=5)]
    others = {tuple(r["case_id"] for r in select_cases(scores, 3, strategy="random", seed=s)) for s in range(10)}
    assert len(others) > 1
    assert "f" not in {c for t in others for c in t}
    # the same cases written in another row order give the same selection
    with open(scores / "predictions.csv") as fh:
        rows = list(csv.DictReader(fh))
    shuffled = write_predictions(tmp_path / "out2", list(reversed(rows)))
    assert first == [r["case_id"] for r in select_cases(shuffled, 3, strategy="random", seed=5)]


def test_reviewed_cases_excluded(scores, tmp_path):
    from medtl.review.store import DecisionStore

    db = tmp_path / "review.sqlite"
    store = DecisionStore(db)
    store.record(case_id="a", model_id="m1", reviewer="dr x", action="accept", new_value="benign")
    store.record(case_id="d", model_id="m0", reviewer="dr y", action="correct", new_value="malignant")
    store.close()
    assert reviewed_case_ids(db) == {"a", "d"}
    picked = select_cases(scores, 3, exclude_reviewed_db=db)
    assert [r["case_id"] for r in picked] == ["b", "e", "c"]
    rand = select_cases(scores, 10, strategy="random", exclude_reviewed_db=db)
    assert {r["case_id"] for r in rand} == {"b", "c", "e", "g"}


def test_writes_csv_atomically(scores, tmp_path):
    out = tmp_path / "sel" / "next.csv"
    picked = select_cases(scores, 2, out=out)
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == OUTPUT_COLUMNS
    assert [(r["case_id"], r["rank"], float(r["uncertainty"])) for r in rows] == [
        (p["case_id"], str(p["rank"]), p["uncertainty"]) for p in picked]
    assert [p.name for p in out.parent.iterdir()] == ["next.csv"]  # no temporary files left


def test_errors(tmp_path, scores, write_predictions):
    with pytest.raises(MedtlError, match="predictions.csv") as info:
        select_cases(tmp_path / "nowhere", 3)
    assert info.value.code == "usage"
    with pytest.raises(MedtlError, match="budget"):
        select_cases(scores, 0)
    with pytest.raises(MedtlError, match="strategy"):
        select_cases(scores, 1, strategy="entropy")
    with pytest.raises(MedtlError, match="not found"):
        select_cases(scores, 1, exclude_reviewed_db=tmp_path / "missing.sqlite")
    not_db = tmp_path / "x.sqlite"
    sqlite3.connect(not_db).execute("CREATE TABLE other (x)").connection.close()
    with pytest.raises(DataError, match="review database"):
        select_cases(scores, 1, exclude_reviewed_db=not_db)
    seg = write_predictions(tmp_path / "seg", [{"case_id": "s1", "source": "s1.nii.gz", "volume_ml_a": 1.0,
                                               "status": "ok"}], header=["case_id", "source", "volume_ml_a", "status"])
    with pytest.raises(DataError, match="random"):
        select_cases(seg, 1)
    assert [r["case_id"] for r in select_cases(seg, 1, strategy="random")] == ["s1"]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "predictions.csv").write_text("foo,bar\n1,2\n")
    with pytest.raises(DataError, match="case_id"):
        select_cases(tmp_path / "bad", 1)


def test_segmentation_ranked_by_uncertainty_and_flags_first(tmp_path, write_predictions):
    header = ["case_id", "source", "volume_ml_a", "confidence", "uncertainty", "flags", "status"]

    def seg(cid, unc, flags=""):
        return {"case_id": cid, "source": f"{cid}.nii.gz", "volume_ml_a": 1.0, "confidence": 1 - unc,
                "uncertainty": unc, "flags": flags, "status": "ok"}

    rows = [seg("s1", 0.10, "empty"), seg("s2", 0.60), seg("s3", 0.30, "fragmented;touches_border"), seg("s4", 0.45)]
    out = write_predictions(tmp_path / "seg", rows, header=header)
    assert [r["case_id"] for r in select_cases(out, 4)] == ["s2", "s4", "s3", "s1"]
    flagged = select_cases(out, 3, strategy="flags-first")
    assert [r["case_id"] for r in flagged] == ["s3", "s1", "s2"]
    assert flagged[0]["flags"] == "fragmented;touches_border" and flagged[2]["flags"] == ""
