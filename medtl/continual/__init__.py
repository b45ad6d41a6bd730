"""Continuous learning: forgetting penalties (L2-SP, EWC), rehearsal buffers, model lineage and
active-learning case selection. The training loop (``medtl.train``) wires these in for
``medtl train --init-from RUN_DIR`` through its step interface (``Continuation.step_loss``); this
package never imports ``medtl.train`` (see docs/ARCHITECTURE.md). docs/continual.md has the rest.

Names are imported lazily, so ``medtl select`` (which only needs :mod:`medtl.continual.select`)
never imports torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "EWC": "penalties",
    "L2SP": "penalties",
    "PENALTY_FILE": "penalties",
    "estimate_fisher": "penalties",
    "load_penalty": "penalties",
    "save_penalty": "penalties",
    "REHEARSAL_FILE": "rehearsal",
    "RehearsalBuffer": "rehearsal",
    "mix": "rehearsal",
    "stratified_indices": "rehearsal",
    "extend_lineage": "lineage",
    "lineage_entry": "lineage",
    "ContinualConfig": "config",
    "Continuation": "continuation",
    "prepare_continuation": "continuation",
    "attach_parent_heads": "continuation",
    "replay_loss": "continuation",
    "parent_source": "parent",
    "set_metric_after": "lineage",
    "reviewed_case_ids": "select",
    "select_cases": "select",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'medtl.continual' has no attribute {name!r}")
    return getattr(importlib.import_module(f"medtl.continual.{_EXPORTS[name]}"), name)
