"""Worklist logic (pure functions): join scored cases with their current decision, filter, sort,
and pick the next case to review (least certain unreviewed first)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from medtl.review.scores import CaseInfo
from medtl.review.store import Decision

STATUSES = ("unreviewed", "accepted", "rejected", "corrected")
_STATUS_OF_ACTION = {"accept": "accepted", "reject": "rejected", "correct": "corrected"}
SORT_KEYS = ("priority", "case_id", "predicted_label", "confidence", "uncertainty", "status", "reviewer", "decided_at",
             "flags")


@dataclass(frozen=True)
class WorklistRow:
    case_id: str
    predicted_label: str | None
    confidence: float | None
    uncertainty: float | None
    status: str  # one of STATUSES
    reviewer: str | None
    decided_at: str | None
    value: str | None  # current value: the reviewed label / mask verdict, else the prediction
    flags: str = ""  # segmentation quality flag codes, comma-separated

    def as_dict(self) -> dict:
        return asdict(self)


def build_worklist(cases: Iterable[CaseInfo], decisions: Mapping[str, Decision]) -> list[WorklistRow]:
    rows = []
    for case in cases:
        d = decisions.get(case.case_id)
        rows.append(
            WorklistRow(
                case_id=case.case_id,
                predicted_label=case.predicted_label,
                confidence=case.confidence,
                uncertainty=case.uncertainty,
                status=_STATUS_OF_ACTION[d.action] if d else "unreviewed",
                reviewer=d.reviewer if d else None,
                decided_at=d.decided_at if d else None,
                value=d.new_value if d else case.predicted_label,
                flags=", ".join(dict.fromkeys(code for code, _ in case.flags)),
            )
        )
    return sort_rows(rows)


def _uncertainty_rank(row: WorklistRow) -> float:
    """Higher = less certain. Uses the uncertainty, else 1 - confidence; unknown sorts last."""
    if row.uncertainty is not None:
        return row.uncertainty
    if row.confidence is not None:
        return 1.0 - row.confidence
    return -math.inf


def priority_key(row: WorklistRow) -> tuple:
    """Default order: unreviewed first, least certain first, then by case id."""
    return (row.status != "unreviewed", -_uncertainty_rank(row), row.case_id)


def sort_rows(rows: Iterable[WorklistRow], by: str = "priority", descending: bool = False) -> list[WorklistRow]:
    """Sort by ``priority`` (default order) or any column; missing values always sort last."""
    rows = list(rows)
    if by == "priority":
        return sorted(rows, key=priority_key, reverse=descending)
    if by not in SORT_KEYS:
        raise ValueError(f"cannot sort by {by!r}; choose one of {SORT_KEYS}")
    present = [r for r in rows if getattr(r, by) is not None]
    missing = [r for r in rows if getattr(r, by) is None]
    present.sort(key=lambda r: (getattr(r, by), r.case_id), reverse=descending)
    return present + sorted(missing, key=lambda r: r.case_id)


def filter_rows(
    rows: Iterable[WorklistRow],
    *,
    statuses: Iterable[str] | None = None,
    labels: Iterable[str] | None = None,
    reviewers: Iterable[str] | None = None,
    confidence: tuple[float, float] | None = None,
    uncertainty: tuple[float, float] | None = None,
    text: str = "",
    flags: Iterable[str] | None = None,
) -> list[WorklistRow]:
    """Keep rows matching every given filter (``None`` or empty = no filter on that column).
    ``reviewers`` may contain ``""`` for "not reviewed yet"; ranges are inclusive and drop rows
    without a value; ``text`` matches the case id case-insensitively; ``flags`` keeps rows with
    any of the given quality flags."""
    statuses, labels, reviewers, flags = (set(x) if x else None for x in (statuses, labels, reviewers, flags))
    needle = text.strip().lower()

    def keep(r: WorklistRow) -> bool:
        if statuses is not None and r.status not in statuses:
            return False
        if labels is not None and (r.predicted_label or "") not in labels:
            return False
        if reviewers is not None and (r.reviewer or "") not in reviewers:
            return False
        if flags is not None and not flags & set(r.flags.split(", ")):
            return False
        for rng, value in ((confidence, r.confidence), (uncertainty, r.uncertainty)):
            if rng is not None and (value is None or not rng[0] <= value <= rng[1]):
                return False
        return not needle or needle in r.case_id.lower()

    return [r for r in rows if keep(r)]


def next_case(rows: Iterable[WorklistRow], current: str | None = None) -> str | None:
    """The least certain unreviewed case other than ``current`` (``None`` when all are done)."""
    for row in sorted(rows, key=priority_key):
        if row.status == "unreviewed" and row.case_id != current:
            return row.case_id
    return None
