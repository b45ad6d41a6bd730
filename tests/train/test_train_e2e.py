"""End-to-end training runs on tiny synthetic tasks: every task x strategy writes a usable model dir."""

from __future__ import annotations

import json

import pytest

from medtl.errors import ConfigError
from medtl.models import load_model_dir
from medtl.train import evaluate, train

from .helpers import check_run_dir, tiny_config


@pytest.mark.parametrize("strategy", ["scratch", "linear-probe", "finetune"])
def test_classification_2d_npz(npz_2d, tmp_path, strategy):
    result = train(tiny_config(npz_2d, tmp_path / strategy, strategy=strategy))
    metrics = check_run_dir(result.run_dir, task="classification")
    assert metrics["test"]["auc"] > 0.75 and metrics["test"]["accuracy"] > 0.6
    assert metrics == result.metrics | {"wall_time_s": metrics["wall_time_s"]}
    loaded = load_model_dir(result.run_dir)
    assert loaded.label_names == ["0", "1"] and loaded.preprocess["intensity"] == "uint8"
    assert loaded.preprocess["image_size"] == [32, 32]
    again = evaluate(result.run_dir, npz_2d, "test")  # scoring path == training-time numbers
    for key in ("auc", "accuracy", "sensitivity", "specificity"):
        assert again[key] == pytest.approx(metrics["test"][key], abs=1e-6)
    log = (result.run_dir / "train_log.jsonl")
    if strategy == "linear-probe":
        assert "probe_C" in metrics and not log.exists()
    else:
        rows = [json.loads(line) for line in log.read_text().splitlines()]
        # LP-FT: the probe-initialised model is validated first and competes as epoch 0
        assert [r["epoch"] for r in rows] == ([0, 1, 2, 3] if strategy == "finetune" else [1, 2, 3])
        assert 0 <= metrics["best_epoch"] <= 3


def test_classification_2d_png_manifest(png_manifest, tmp_path):
    result = train(tiny_config(png_manifest, tmp_path / "run", strategy="finetune",
                               extra=("finetune.gradual_every=1", "optim.layer_decay=0.8")))
    metrics = check_run_dir(result.run_dir, task="classification")
    assert metrics["test"]["auc"] > 0.75
    assert load_model_dir(result.run_dir).label_names == ["absent", "present"]
    rows = [json.loads(line) for line in (result.run_dir / "train_log.jsonl").read_text().splitlines()]
    assert [r.get("unfrozen_groups") for r in rows] == [None, 0, 1, 2]


def test_classification_3d_nifti(nifti_cls_manifest, tmp_path):
    result = train(tiny_config(nifti_cls_manifest, tmp_path / "run", strategy="finetune", size=16, epochs=4,
                               extra=("finetune.lp_init=false", "finetune.freeze_bn=false")))
    metrics = check_run_dir(result.run_dir, task="classification")
    assert metrics["test"]["auc"] > 0.75
    assert load_model_dir(result.run_dir).preprocess["image_size"] == [16, 16, 16]


@pytest.mark.parametrize("strategy", ["scratch", "finetune"])
def test_segmentation_2d(seg2d_manifest, tmp_path, strategy):
    result = train(tiny_config(seg2d_manifest, tmp_path / "run", task="segmentation", strategy=strategy, epochs=4,
                               extra=("optim.lr=0.03", "optim.encoder_lr=0.01")))
    metrics = check_run_dir(result.run_dir, task="segmentation")
    assert metrics["test"]["dice"] > 0.5 and metrics["test"]["dice_blob"] == metrics["test"]["dice"]
    again = evaluate(result.run_dir, seg2d_manifest, "test")
    assert again["dice"] == pytest.approx(metrics["test"]["dice"], abs=1e-5)
    assert again["hd95"] == pytest.approx(metrics["test"]["hd95"], abs=1e-4)


def test_segmentation_3d_scratch_then_linear_probe(seg3d_manifest, tmp_path):
    """3D: scratch, then a linear probe (frozen encoder + trained decoder) on that run's encoder."""
    extra = ("optim.lr=0.03", "batch_size=4")
    base = train(tiny_config(seg3d_manifest, tmp_path / "scratch", task="segmentation", size=16, epochs=5,
                             extra=extra))
    assert check_run_dir(base.run_dir, task="segmentation")["test"]["dice"] > 0.5
    from medtl.data.mask_stats import read_stats

    stats = read_stats(base.run_dir)  # the training masks: 16 whole spheres of radius 3 voxels
    name = stats["label_names"][1]
    assert stats["n_masks"] == 16 and stats["empty_fraction"] == 0.0 and stats["border_fraction"] == 0.0
    assert stats["single_part_fraction"][name] == 1.0 and 0 < stats["size_p01"][name] <= stats["size_p99"][name]
    probe = train(tiny_config(seg3d_manifest, tmp_path / "probe", task="segmentation", strategy="linear-probe",
                              size=16, epochs=2, extra=(*extra, f"model.weights={base.run_dir}")))
    metrics = check_run_dir(probe.run_dir, task="segmentation")
    assert metrics["test"]["dice"] > 0.5
    from safetensors.torch import load_file

    a, b = load_file(str(base.run_dir / "model.safetensors")), load_file(str(probe.run_dir / "model.safetensors"))
    enc = [k for k in a if k.startswith("encoder.") and "num_batches" not in k]
    assert enc and all((a[k] == b[k]).all() for k in enc)  # the encoder stayed frozen, BN stats included
    assert any(not (a[k] == b[k]).all() for k in a if k.startswith("decoder."))
    info = json.loads((probe.run_dir / "model.json").read_text())
    assert info["provenance"]["weights"] == str(base.run_dir)


def test_init_from_an_earlier_run_records_lineage(npz_2d, tmp_path):
    first = train(tiny_config(npz_2d, tmp_path / "first", epochs=1))
    second = train(tiny_config(npz_2d, tmp_path / "second", strategy="finetune", epochs=1,
                               extra=(f"init_from={first.run_dir}", "finetune.lp_init=false")))
    a = json.loads((first.run_dir / "model.json").read_text())
    b = json.loads((second.run_dir / "model.json").read_text())
    assert b["provenance"]["init_from"] == str(first.run_dir)
    (entry,) = b["lineage"]  # one step: first -> second, with what the old task scored before and after
    assert (entry["parent_model_id"], entry["parent_path"]) == (a["model_id"], str(first.run_dir))
    assert entry["mode"] == "same_task" and entry["method"] == "none"
    assert entry["data"]["source"] == str(npz_2d)
    before, after = entry["old_task_metric"]["before"], entry["old_task_metric"]["after"]
    assert entry["old_task_metric"]["name"] == "auc" and 0.0 <= before <= 1.0 and 0.0 <= after <= 1.0
    assert str(first.run_dir) in (second.run_dir / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize("strategy", ["scratch", "linear-probe"])
def test_multilabel_classification(npz_multilabel, tmp_path, strategy):
    result = train(tiny_config(npz_multilabel, tmp_path / strategy, strategy=strategy, epochs=4))
    metrics = check_run_dir(result.run_dir, task="classification")
    assert metrics["test"]["auc"] > 0.7
    loaded = load_model_dir(result.run_dir)
    assert loaded.multilabel and loaded.label_names == ["0", "1"]


def test_early_stopping_on_a_flat_validation_metric(npz_2d, tmp_path):
    """lr 0: the validation AUC never improves after epoch 1, so patience 1 stops at epoch 2 of 6."""
    result = train(tiny_config(npz_2d, tmp_path / "run", epochs=6, extra=("optim.lr=0", "patience=1")))
    rows = [json.loads(line) for line in (result.run_dir / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert result.metrics["epochs"] == 2 and result.metrics["best_epoch"] == 1


def test_evaluate_rederives_a_patient_split_from_the_run_config(png_manifest, tmp_path):
    """No split column: evaluate() must rebuild the same test split (seed and fractions from config.yaml)."""
    import csv

    rows = list(csv.DictReader(open(png_manifest)))
    nosplit = png_manifest.with_name("nosplit.csv")
    with open(nosplit, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["image", "label", "patient_id"])
        writer.writeheader()
        writer.writerows({k: r[k] for k in ("image", "label", "patient_id")} for r in rows)
    result = train(tiny_config(nosplit, tmp_path / "run", epochs=2,
                               extra=("data.seed=3", "data.val_fraction=0.25", "data.test_fraction=0.25")))
    stored = result.metrics["test"]
    again = evaluate(result.run_dir, nosplit, "test")
    assert again["n"] == stored["n"] and again["auc"] == pytest.approx(stored["auc"], abs=1e-6)
    assert evaluate(result.run_dir, nosplit, "all")["n"] == len(rows)


def test_3d_pretraining_segmentation_encoder_transfers_to_classification(seg3d_manifest, nifti_cls_manifest, tmp_path):
    """medtl's own 3D pretraining: a unet-res16 segmentation run (per-axis image_size) becomes the
    weight source of a 3D classifier, whose encoder starts exactly from the segmentation encoder."""
    seg = train(tiny_config(seg3d_manifest, tmp_path / "seg", task="segmentation", size=16, epochs=2,
                            extra=("model.encoder=unet-res16", "model.decoder_channels=[32,16,16,8,4]",
                                   "preprocess.image_size=[32,48,32]", "batch_size=4")))
    check_run_dir(seg.run_dir, task="segmentation", encoder="unet-res16")
    assert load_model_dir(seg.run_dir).preprocess["image_size"] == [32, 48, 32]
    clf = train(tiny_config(nifti_cls_manifest, tmp_path / "clf", strategy="linear-probe", size=32, epochs=1,
                            extra=("model.encoder=unet-res16", f"model.weights={seg.run_dir}")))
    check_run_dir(clf.run_dir, task="classification", encoder="unet-res16")
    from safetensors.torch import load_file

    a, b = load_file(str(seg.run_dir / "model.safetensors")), load_file(str(clf.run_dir / "model.safetensors"))
    enc = [k for k in a if k.startswith("encoder.")]
    assert enc and all(k in b and (a[k] == b[k]).all() for k in enc)
    info = json.loads((clf.run_dir / "model.json").read_text())
    assert info["provenance"]["weights"] == str(seg.run_dir)


def test_image_size_per_axis_must_match_the_data(seg3d_manifest, tmp_path):
    with pytest.raises(ConfigError, match="image_size"):
        train(tiny_config(seg3d_manifest, tmp_path / "bad", task="segmentation",
                          extra=("preprocess.image_size=[16,16]",)))


def test_too_small_input_is_a_config_error_not_a_convolution_crash(nifti_cls_manifest, tmp_path):
    # EfficientNet-Lite0 in 3D at 28^3 used to fail inside a 5x5x5 convolution on a 4^3 map.
    with pytest.raises(ConfigError, match=r"too small for encoder 'efficientnet-lite0'.*at least 32"):
        train(tiny_config(nifti_cls_manifest, tmp_path / "small", size=28,
                          extra=("model.encoder=efficientnet-lite0",)))
    with pytest.raises(ConfigError, match=r"too small for encoder 'unet-res16'"):
        train(tiny_config(nifti_cls_manifest, tmp_path / "small2", size=16, extra=("model.encoder=unet-res16",)))


def test_positive_class_names_the_class_sensitivity_is_for(npz_2d, tmp_path):
    """positive_class=0: metrics, model.json and evaluate() agree; the old default (class 1) swaps
    sensitivity and specificity on the same predictions."""
    import shutil

    result = train(tiny_config(npz_2d, tmp_path / "run", epochs=1, extra=("positive_class=0",)))
    metrics = check_run_dir(result.run_dir, task="classification")
    assert metrics["val"]["positive_class"] == metrics["test"]["positive_class"] == 0
    info = json.loads((result.run_dir / "model.json").read_text())
    assert info["positive_class"] == 0 and load_model_dir(result.run_dir).positive_class == 0
    again = evaluate(result.run_dir, npz_2d, "test")
    assert again["positive_class"] == 0 and again["sensitivity"] != again["specificity"]  # else the swap is moot
    for key in ("sensitivity", "specificity", "auc", "accuracy"):
        assert again[key] == pytest.approx(metrics["test"][key], abs=1e-6)
    old = tmp_path / "old"  # the same weights with model.json as written before the key existed
    shutil.copytree(result.run_dir, old)
    del info["positive_class"]
    (old / "model.json").write_text(json.dumps(info))
    one = evaluate(old, npz_2d, "test")
    assert one["positive_class"] == 1 and one["auc"] == pytest.approx(again["auc"], abs=1e-9)
    assert one["sensitivity"] == pytest.approx(again["specificity"], abs=1e-9)
    assert one["specificity"] == pytest.approx(again["sensitivity"], abs=1e-9)
    card = (result.run_dir / "MODEL_CARD.md").read_text()
    assert "| sensitivity (0) |" in card and "Positive class: 0" in card and "| positive_class |" not in card
    rows = [json.loads(line) for line in (result.run_dir / "train_log.jsonl").read_text().splitlines()]
    assert rows and all("val_sensitivity" in r and "val_positive_class" not in r for r in rows)


@pytest.mark.parametrize(("fixture", "value", "fragment"), [
    ("npz_2d", "malignant", "label names: ['0', '1']"),
    ("npz_multilabel", "0", "binary classification only"),
])
def test_bad_positive_class_fails_before_training(request, tmp_path, fixture, value, fragment):
    data = request.getfixturevalue(fixture)
    with pytest.raises(ConfigError) as err:
        train(tiny_config(data, tmp_path / "run", extra=(f"positive_class={value}",)))
    assert fragment in str(err.value) and repr(value) in str(err.value)
    assert not (tmp_path / "run" / "model.json").exists()


def test_default_embedding_cache_stays_inside_the_run_folder(npz_2d, tmp_path, monkeypatch):
    """Nothing is written outside the output folder the user named (the cache used to default to ~/.cache)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    before = {p.name for p in tmp_path.iterdir()}
    result = train(tiny_config(npz_2d, tmp_path / "run", strategy="linear-probe", epochs=1,
                               extra=("linear_probe.cache_dir=null",)))
    assert len(list((result.run_dir / "embeddings").glob("*.npz"))) == 3  # train/val/test features
    assert {p.name for p in tmp_path.iterdir()} - before == {"run"}  # no ~/.cache, no stray folder
