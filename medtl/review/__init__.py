"""Clinician review: decisions store (SQLite, append-only), worklist, rendering, export.

Torch-free on purpose: the review app starts from a scoring output folder alone.
"""

from medtl.review.actions import decide, decision_value
from medtl.review.export import export_audit, export_manifest
from medtl.review.scores import CaseInfo, Preview, ScoreRun, ScoresError, load_preview, load_scores
from medtl.review.store import Decision, DecisionStore, ReviewStoreError

__all__ = [
    "CaseInfo", "Decision", "DecisionStore", "Preview", "ReviewStoreError", "ScoreRun", "ScoresError",
    "decide", "decision_value", "export_audit", "export_manifest", "load_preview", "load_scores",
]
