from __future__ import annotations

import pytest

from . import helpers


@pytest.fixture(scope="session")
def cls_model(tmp_path_factory):
    return helpers.make_model_dir(tmp_path_factory.mktemp("cls_model") / "run")


@pytest.fixture(scope="session")
def seg_model(tmp_path_factory):
    return helpers.seg_model_dir(tmp_path_factory.mktemp("seg_model") / "run")


@pytest.fixture(scope="session")
def cls3d_model(tmp_path_factory):
    return helpers.make_model_dir(tmp_path_factory.mktemp("cls3d_model") / "run", spatial_dims=3,
                                  image_size=(32, 32, 16), intensity="ct_window")
