"""TTA flip axes from a model directory's training config, and the shared flip-and-average."""

from __future__ import annotations

import logging

import pytest
import torch

from medtl.errors import ConfigError
from medtl.models import ModelConfig, build_model, save_model_dir
from medtl.models.tta import flip_views, tta_flips
from medtl.train.config import dump_yaml, load_config


def _model_dir(path, *, spatial_dims=3, config=None, task="segmentation"):
    """A tiny model directory; ``config``: overrides for the config.yaml a training run writes
    (``None``: no config.yaml, like an old or hand-made model directory)."""
    cfg = ModelConfig(task=task, encoder="tiny", weights="none", spatial_dims=spatial_dims, in_channels=1,
                      num_classes=2)
    pre = {"spatial_dims": spatial_dims, "image_size": [16] * spatial_dims, "in_channels": 1, "intensity": "minmax"}
    labels = ["background", "lesion"] if task == "segmentation" else ["absent", "present"]
    save_model_dir(path, build_model(cfg), model_cfg=cfg, preprocess=pre, label_names=labels)
    if config is not None:
        (path / "config.yaml").write_text(dump_yaml(load_config(overrides=[f"task={task}", *config])))
    return path


def test_axes_follow_the_training_flips(tmp_path, caplog):
    hippo = _model_dir(tmp_path / "hippo", config=["augment.flip_axes=[0]"])  # left-right only
    default = _model_dir(tmp_path / "default", config=[])  # augment defaults: every axis
    with caplog.at_level(logging.WARNING, logger="medtl.models.tta"):
        assert tta_flips(hippo).axes == (0,)
        flips = tta_flips(default)
        assert flips.axes == (0, 1, 2) and flips.source == "training"
    assert not caplog.records  # nothing to warn about


@pytest.mark.parametrize("config, reason", [
    (["augment.enabled=false"], "augment.enabled is false"),
    (["augment.flip_prob=0"], "augment.flip_prob is 0"),
    (["augment.flip_axes=[]"], "augment.flip_axes is empty"),
    (["strategy=linear-probe"], "linear-probe"),
])
def test_no_flips_when_trained_without_flips(tmp_path, caplog, config, reason):
    task = "classification" if "linear-probe" in reason else "segmentation"
    run = _model_dir(tmp_path / "run", spatial_dims=2, config=config, task=task)
    with caplog.at_level(logging.WARNING, logger="medtl.models.tta"):
        flips = tta_flips(run)
    assert flips.axes == () and flips.source == "training" and reason in flips.note
    assert "trained without flips" in caplog.text and "identity view only" in caplog.text


def test_without_config_every_axis_with_a_warning(tmp_path, caplog):
    run = _model_dir(tmp_path / "old", spatial_dims=3)
    with caplog.at_level(logging.WARNING, logger="medtl.models.tta"):
        flips = tta_flips(run)
    assert flips.axes == (0, 1, 2) and flips.source == "default"
    assert "no config.yaml" in caplog.text and "--tta-axes" in caplog.text


def test_override_is_validated(tmp_path):
    run = _model_dir(tmp_path / "run", spatial_dims=2, config=["augment.flip_axes=[0]"])
    flips = tta_flips(run, override=[1, 0, 1])
    assert flips.axes == (0, 1) and flips.source == "override"
    assert tta_flips(run, override=()).axes == ()
    for bad in ([5], [-1], [0, 2], ["0"], [True]):
        with pytest.raises(ConfigError, match="not a spatial axis of a 2D model"):
            tta_flips(run, override=bad)


def test_flip_views_flips_inputs_and_spatial_outputs_back():
    x = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(1, 1, 2, 3, 4)
    seen = []

    def fn(v):
        seen.append(v)
        return v * 10

    views = flip_views(fn, x, (0, 2), spatial_output=True)
    assert views.shape == (3, 1, 1, 2, 3, 4)
    assert torch.equal(seen[1], torch.flip(x, (2,))) and torch.equal(seen[2], torch.flip(x, (4,)))
    assert torch.equal(views, (x * 10).expand(3, *x.shape))  # every view back on the input's grid
    pooled = flip_views(lambda v: v.flatten(2)[:, :, :2], x, (1,), spatial_output=False)
    assert torch.equal(pooled[1], torch.flip(x, (3,)).flatten(2)[:, :, :2])  # not flipped back
    with pytest.raises(ConfigError):
        flip_views(fn, x, (3,), spatial_output=True)
