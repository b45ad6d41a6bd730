from __future__ import annotations

import pytest

from medtl.review.sample import write_sample_scores


@pytest.fixture
def cls3(tmp_path):
    """Classification, 3D CT-like volumes (anisotropic spacing), Grad-CAM maps, one failed case."""
    return write_sample_scores(tmp_path / "out", tmp_path / "inputs", task="classification", spatial_dims=3, n_cases=4)


@pytest.fixture
def seg3(tmp_path):
    return write_sample_scores(tmp_path / "out", tmp_path / "inputs", task="segmentation", spatial_dims=3, n_cases=4)


@pytest.fixture
def cls2(tmp_path):
    return write_sample_scores(tmp_path / "out", tmp_path / "inputs", task="classification", spatial_dims=2, n_cases=4)
