"""``evaluate(..., tta=True)``: flip views averaged as probabilities, metrics recomputed from them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medtl.errors import ConfigError
from medtl.train import evaluate, train

from .helpers import tiny_config


def _test_batches(run_dir, data):
    """The test split as evaluate() sees it: (loaded model, images, batch) per batch."""
    from medtl.data import PreprocessConfig, build_transforms, load_source, make_dataset
    from medtl.models import load_model_dir
    from medtl.train.data import make_loader, strip_records

    loaded = load_model_dir(run_dir)
    pre = PreprocessConfig.from_dict(loaded.preprocess)
    seg = loaded.task == "segmentation"
    source = load_source(data, task=loaded.task)
    ds = make_dataset(strip_records(source.records["test"], loaded.task),
                      build_transforms(pre, train=False, mask_key="mask" if seg else None), cache="none")
    for batch in make_loader(ds, batch_size=16, shuffle=False, seed=0):
        yield loaded, torch.as_tensor(batch["image"]).float(), batch


def _manual_metrics(run_dir, data, axes):
    """Mean softmax over the identity and one flip per axis (flipped back), argmax, Dice/HD95."""
    from medtl.train.metrics import SegmentationMeter, batch_spacing

    meter = None
    with torch.no_grad():
        for loaded, x, batch in _test_batches(run_dir, data):
            meter = meter or SegmentationMeter(loaded.label_names)
            probs = torch.softmax(loaded.model(x), 1)
            for axis in axes:
                probs = probs + torch.flip(torch.softmax(loaded.model(torch.flip(x, (axis + 2,))), 1), (axis + 2,))
            meter.update(probs / (1 + len(axes)), torch.as_tensor(batch["mask"]),
                         spacing=batch_spacing(batch["image"]))
    return meter.compute()


def test_segmentation_tta_matches_a_manual_computation(seg2d_manifest, tmp_path):
    cfg = tiny_config(seg2d_manifest, tmp_path / "run", task="segmentation", epochs=2,
                      extra=("optim.lr=0.03", "augment.flip_axes=[0]"))
    run = train(cfg).run_dir
    plain = evaluate(run, seg2d_manifest, "test")
    assert plain["tta"] is False and plain["tta_axes"] is None
    tta = evaluate(run, seg2d_manifest, "test", tta=True)
    assert tta["tta"] is True and tta["tta_axes"] == [0]  # the training flips (augment.flip_axes)
    manual = _manual_metrics(run, seg2d_manifest, (0,))
    for key in ("dice", "dice_blob", "hd95", "n"):
        assert tta[key] == pytest.approx(manual[key], abs=1e-6), key
    both = evaluate(run, seg2d_manifest, "test", tta=True, tta_axes=[0, 1])
    assert both["tta_axes"] == [0, 1]
    assert both["dice"] == pytest.approx(_manual_metrics(run, seg2d_manifest, (0, 1))["dice"], abs=1e-6)
    # no flips: argmax of the softmax == argmax of the logits, so exactly the non-TTA numbers
    none = evaluate(run, seg2d_manifest, "test", tta=True, tta_axes=[])
    assert none["tta_axes"] == [] and {k: none[k] for k in manual} == {k: plain[k] for k in manual}
    with pytest.raises(ConfigError, match="not a spatial axis of a 2D model"):
        evaluate(run, seg2d_manifest, "test", tta=True, tta_axes=[2])
    with pytest.raises(ConfigError, match="needs"):
        evaluate(run, seg2d_manifest, "test", tta_axes=[0])


def test_classification_tta_averages_calibrated_probabilities(npz_2d, tmp_path):
    """Temperature applied once per view: with no flips TTA equals plain evaluation (ECE included);
    with flips, the metrics are those of the mean temperature-scaled probabilities."""
    from medtl.data import PreprocessConfig
    from medtl.models import ModelConfig, build_model, save_model_dir
    from medtl.train.calibration import expected_calibration_error, probabilities
    from medtl.train.metrics import classification_metrics

    torch.manual_seed(0)
    cfg = ModelConfig(task="classification", encoder="tiny", weights="none", spatial_dims=2, in_channels=1,
                      num_classes=2)
    run = tmp_path / "cls"  # no config.yaml: TTA falls back to every axis
    save_model_dir(run, build_model(cfg).eval(), model_cfg=cfg, label_names=["0", "1"], temperature=3.0,
                   preprocess=PreprocessConfig(spatial_dims=2, image_size=(32, 32), intensity="uint8"))
    plain = evaluate(run, npz_2d, "test")
    none = evaluate(run, npz_2d, "test", tta=True, tta_axes=())
    for key in ("auc", "accuracy", "ece"):
        assert none[key] == pytest.approx(plain[key], abs=1e-6), key

    tta = evaluate(run, npz_2d, "test", tta=True)
    assert tta["tta_axes"] == [0, 1]
    probs, identity, labels = [], [], []
    with torch.no_grad():
        for loaded, x, batch in _test_batches(run, npz_2d):
            views = [probabilities(loaded.model(v), temperature=3.0)  # T applied once, per view
                     for v in (x, torch.flip(x, (2,)), torch.flip(x, (3,)))]
            probs.append(np.mean(views, axis=0))
            identity.append(views[0])
            labels.append(np.asarray(batch["label"]).reshape(-1))
    probs, labels = np.concatenate(probs), np.concatenate(labels)
    assert np.abs(probs - np.concatenate(identity)).max() > 1e-4  # the flips do change the prediction
    want = classification_metrics(probs, labels, threshold=loaded.threshold)
    assert tta["auc"] == pytest.approx(want["auc"], abs=1e-6)
    assert tta["accuracy"] == pytest.approx(want["accuracy"], abs=1e-6)
    assert tta["ece"] == pytest.approx(expected_calibration_error(probs, labels), abs=1e-5)
