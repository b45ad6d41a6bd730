"""Flip TTA in scoring: only the configured axes are used; run_manifest.json says which."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import torch

from medtl.errors import MedtlError
from medtl.infer.predictor import Predictor
from medtl.infer.score import score
from medtl.models import load_model_dir, predict_logits

from . import helpers


def _manual(loaded, x, axes, *, temperature=1.0, spatial=True):
    """Identity + one flip per axis in ``axes``, by hand (flips undone for segmentation)."""
    views = [torch.softmax(predict_logits(loaded.model, x) / temperature, 1)]
    for axis in axes:
        out = torch.softmax(predict_logits(loaded.model, torch.flip(x, (axis + 2,))) / temperature, 1)
        views.append(torch.flip(out, (axis + 2,)) if spatial else out)
    return torch.stack(views).mean(0)


def test_segmentation_uses_only_the_configured_axes(seg_model):
    loaded = load_model_dir(seg_model)
    x = torch.randn(2, 1, 32, 32, 16, generator=torch.Generator().manual_seed(0))
    logits = predict_logits(loaded.model, x)
    flipped = torch.flip(predict_logits(loaded.model, torch.flip(x, (3,))), (3,))
    assert not torch.allclose(logits, flipped, atol=1e-3)  # the toy model is not flip-equivariant

    got = torch.stack([p.probs for p in Predictor(loaded, tta=True, tta_axes=(0,))(x)])
    assert torch.allclose(got, _manual(loaded, x, (0,)), atol=1e-6)
    every = torch.stack([p.probs for p in Predictor(loaded, tta=True)(x)])  # default: every axis
    assert torch.allclose(every, _manual(loaded, x, (0, 1, 2)), atol=1e-6)
    assert not torch.allclose(got, every, atol=1e-4)
    plain = torch.stack([p.probs for p in Predictor(loaded)(x)])
    none = torch.stack([p.probs for p in Predictor(loaded, tta=True, tta_axes=())(x)])
    assert torch.equal(none, plain)


def test_classification_uses_only_the_configured_axes(tmp_path):
    run = helpers.make_model_dir(tmp_path / "cls", temperature=1.7)
    loaded = load_model_dir(run)
    x = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    preds = Predictor(loaded, tta=True, cam=False, tta_axes=[1])(x)
    want = _manual(loaded, x, (1,), temperature=1.7, spatial=False)
    assert torch.allclose(torch.stack([p.probs for p in preds]), want, atol=1e-6)
    assert all(p.disagreement is not None and p.disagreement >= 0 for p in preds)
    with pytest.raises(MedtlError, match="not a spatial axis of a 2D model"):
        Predictor(loaded, tta=True, cam=False, tta_axes=[2])(x)


def _pngs_and_model(tmp_path, cls_model, config: str | None):
    run = tmp_path / "model"
    shutil.copytree(cls_model, run)
    if config is not None:
        (run / "config.yaml").write_text(config)
    helpers.write_pngs(tmp_path / "in", 2)
    return run


def _options(out):
    return json.loads((out / "run_manifest.json").read_text())["options"]


def test_score_records_the_axes_used(cls_model, tmp_path, caplog):
    run = _pngs_and_model(tmp_path, cls_model, "task: classification\naugment:\n  flip_axes: [0]\n")
    kw = dict(workers=0, quiet=True, cam=False, formats=["csv"])
    score(run, [tmp_path / "in"], tmp_path / "a", tta=True, **kw)
    assert _options(tmp_path / "a") | {"formats": None} == {
        "tta": True, "tta_axes": [0], "tta_axes_from": "training", "formats": None, "anonymise_ids": False,
        "cam": False}
    score(run, [tmp_path / "in"], tmp_path / "b", tta=True, tta_axes=[1, 0], **kw)
    assert _options(tmp_path / "b")["tta_axes"] == [0, 1] and _options(tmp_path / "b")["tta_axes_from"] == "override"
    score(run, [tmp_path / "in"], tmp_path / "c", **kw)
    assert _options(tmp_path / "c")["tta"] is False and _options(tmp_path / "c")["tta_axes"] is None
    with pytest.raises(MedtlError, match="not a spatial axis") as exc:
        score(run, [tmp_path / "in"], tmp_path / "d", tta=True, tta_axes=[5], **kw)
    assert exc.value.code == "usage" and not (tmp_path / "d").exists()  # fails before writing anything

    (run / "config.yaml").write_text("task: classification\naugment:\n  enabled: false\n")
    with caplog.at_level(logging.WARNING, logger="medtl.models.tta"):
        score(run, [tmp_path / "in"], tmp_path / "e", tta=True, **kw)
    assert _options(tmp_path / "e")["tta_axes"] == [] and "trained without flips" in caplog.text
