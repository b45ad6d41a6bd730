"""Shared fixtures: small deterministic volumes and the optional real-data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
