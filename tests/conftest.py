"""Shared fixtures: small deterministic volumes and the optional real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# One intra-op thread per test process: results of the small training tests then do not depend on
# the core count of the machine (float reductions split across threads round differently), and
# torch threads do not oversubscribe the 2 CI cores next to DataLoader workers and subprocesses.
# Subprocesses the tests start (torchrun, medtl score) inherit it through the environment.
os.environ.setdefault("OMP_NUM_THREADS", "1")
try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a hard dependency
    pass

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The read-only real-data folder beside the repository; tests using it skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available at {SHARED_DATA}")
    return SHARED_DATA.resolve()


@pytest.fixture
def small_volume() -> np.ndarray:
    """An 8 x 6 x 5 int16 volume (cols, rows, slices) whose every voxel value is unique."""
    return (np.arange(8 * 6 * 5, dtype=np.int16).reshape(8, 6, 5) * 7 - 100).astype(np.int16)
