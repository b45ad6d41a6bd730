"""Batch scoring (``medtl score``): cases -> pipelined loading -> batched predictions -> per-case
outputs and records -> predictions.csv / run_manifest.json. See docs/scoring.md."""

from medtl.infer.cases import Case, collect_cases
from medtl.infer.manifest import merge
from medtl.infer.score import ScoreSummary, score

__all__ = ["Case", "ScoreSummary", "collect_cases", "merge", "score"]
