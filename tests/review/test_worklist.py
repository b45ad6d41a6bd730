from __future__ import annotations

import pytest

from medtl.review.scores import CaseInfo
from medtl.review.store import Decision
from medtl.review.worklist import build_worklist, filter_rows, next_case, sort_rows


def _case(cid, label, conf, unc):
    return CaseInfo(case_id=cid, source=cid, task="classification", predicted_label=label, confidence=conf,
                    uncertainty=unc)


def _dec(cid, action, value, reviewer="Dr A", i=1):
    return Decision(i, cid, "m", reviewer, f"2026-11-27T10:00:0{i}+00:00", action, None, value, "")


@pytest.fixture
def rows():
    cases = [_case("a", "present", 0.9, 0.2), _case("b", "absent", 0.55, 0.95), _case("c", "present", 0.6, 0.8),
             _case("d", "absent", 0.7, 0.6), _case("e", None, None, None)]
    decisions = {"b": _dec("b", "accept", "absent"), "d": _dec("d", "correct", "present", "Dr B", 2)}
    return build_worklist(cases, decisions)


def test_default_order_is_least_certain_unreviewed_first(rows):
    assert [r.case_id for r in rows] == ["c", "a", "e", "b", "d"]
    assert [r.status for r in rows] == ["unreviewed", "unreviewed", "unreviewed", "accepted", "corrected"]
    d = next(r for r in rows if r.case_id == "d")
    assert (d.reviewer, d.value, d.predicted_label) == ("Dr B", "present", "absent")


def test_next_case_skips_the_current_and_reviewed_ones(rows):
    assert next_case(rows) == "c"
    assert next_case(rows, current="c") == "a"
    done = filter_rows(rows, statuses=["accepted", "corrected"])
    assert next_case(done) is None


def test_sorting_by_columns_puts_missing_values_last(rows):
    assert [r.case_id for r in sort_rows(rows, "confidence")] == ["b", "c", "d", "a", "e"]
    assert [r.case_id for r in sort_rows(rows, "confidence", descending=True)] == ["a", "d", "c", "b", "e"]
    assert [r.case_id for r in sort_rows(rows, "reviewer")] == ["b", "d", "a", "c", "e"]
    assert [r.case_id for r in sort_rows(rows, "case_id", descending=True)] == ["e", "d", "c", "b", "a"]
    with pytest.raises(ValueError):
        sort_rows(rows, "nope")


def test_filters(rows):
    ids = lambda rs: sorted(r.case_id for r in rs)  # noqa: E731
    assert ids(filter_rows(rows, statuses=["unreviewed"])) == ["a", "c", "e"]
    assert ids(filter_rows(rows, labels=["absent"])) == ["b", "d"]
    assert ids(filter_rows(rows, labels=[""])) == ["e"]
    assert ids(filter_rows(rows, reviewers=["Dr B"])) == ["d"]
    assert ids(filter_rows(rows, reviewers=[""])) == ["a", "c", "e"]
    assert ids(filter_rows(rows, uncertainty=(0.5, 0.9))) == ["c", "d"]
    assert ids(filter_rows(rows, confidence=(0.0, 0.6))) == ["b", "c"]
    assert ids(filter_rows(rows, text="B")) == ["b"]
    assert ids(filter_rows(rows, statuses=[], labels=None)) == ["a", "b", "c", "d", "e"]


def test_flag_filter_keeps_cases_with_any_of_the_flags():
    def seg(cid, unc, flags):
        return CaseInfo(case_id=cid, source=cid, task="segmentation", confidence=1 - unc, uncertainty=unc,
                        flags=tuple((f, "why") for f in flags))

    rows = build_worklist([seg("a", 0.1, ["empty"]), seg("b", 0.7, []), seg("c", 0.4, ["fragmented", "empty", "empty"]),
                           seg("d", 0.2, ["touches_border"])], {})
    assert [r.case_id for r in rows] == ["b", "c", "d", "a"]  # most uncertain first
    assert rows[1].flags == "fragmented, empty"
    assert [r.case_id for r in filter_rows(rows, flags=["empty"])] == ["c", "a"]
    assert [r.case_id for r in filter_rows(rows, flags=["touches_border", "fragmented"])] == ["c", "d"]
    assert len(filter_rows(rows, flags=[])) == 4
