"""What a reviewer's action means for a case: the value stored in the decisions table."""

from __future__ import annotations

from medtl.errors import MedtlError
from medtl.review.scores import ScoreRun
from medtl.review.store import Decision, DecisionStore

# Values a segmentation decision stores (``new_value``).
MASK_OK, MASK_NOT_OK = "mask_acceptable", "mask_not_acceptable"
MASK_VERDICTS = (MASK_OK, MASK_NOT_OK)


class DecisionError(MedtlError):
    code = "bad_decision"


def decision_value(run: ScoreRun, case_id: str, action: str, corrected: str | None = None) -> str | None:
    """Classification: accept -> the predicted label, reject -> None (no label), correct -> the
    reviewer's class (one of the run's label names). Segmentation: accept -> mask acceptable,
    reject -> mask not acceptable, correct -> the verdict given in ``corrected``."""
    case = run.cases.get(case_id)
    if case is None:
        raise DecisionError(f"unknown case {case_id!r}", path=run.root)
    if action == "reject":
        return None if run.task == "classification" else MASK_NOT_OK
    if action == "accept":
        return case.predicted_label if run.task == "classification" else MASK_OK
    if action != "correct":
        raise DecisionError(f"unknown action {action!r}", path=run.root)
    allowed = run.label_names if run.task == "classification" else list(MASK_VERDICTS)
    if corrected not in allowed:
        raise DecisionError(f"correction must be one of {allowed}, got {corrected!r}", path=run.root)
    return corrected


def decide(
    store: DecisionStore,
    run: ScoreRun,
    case_id: str,
    *,
    reviewer: str,
    action: str,
    corrected: str | None = None,
    comment: str = "",
) -> Decision:
    """Validate and append one decision for ``case_id`` of this scoring run."""
    value = decision_value(run, case_id, action, corrected)
    initial = run.cases[case_id].predicted_label
    return store.record(case_id=case_id, model_id=run.model_id, reviewer=reviewer, action=action,
                        new_value=value, comment=comment, initial_value=initial)
