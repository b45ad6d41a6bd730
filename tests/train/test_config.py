"""Typed training config: defaults file mirrors the dataclasses; overrides are type-checked."""

from __future__ import annotations

import argparse

import pytest
import yaml

from medtl.errors import ConfigError
from medtl.train.config import DEFAULT_YAML, TrainConfig, dump_yaml, load_config, resolve_positive_class


def test_default_yaml_mirrors_dataclasses():
    assert yaml.safe_load(DEFAULT_YAML.read_text()) == TrainConfig().to_dict()


def test_finetune_defaults_follow_findings():
    cfg = load_config()
    assert (cfg.strategy, cfg.finetune.lp_init, cfg.finetune.freeze_bn) == ("finetune", True, True)
    assert (cfg.optim.encoder_lr, cfg.optim.lr) == (5e-5, 2e-4)


def test_overrides_are_parsed_and_typed():
    cfg = load_config(overrides=["optim.lr=1e-3", "epochs=3", "preprocess.image_size=64",
                                 "finetune.unfreeze_groups=2", "linear_probe.c_grid=[0.1, 1]", "amp=false",
                                 "augment.flip_prob=0.2"])
    assert cfg.optim.lr == pytest.approx(1e-3) and isinstance(cfg.optim.lr, float)
    assert cfg.epochs == 3 and cfg.preprocess.image_size == 64 and cfg.finetune.unfreeze_groups == 2
    assert cfg.linear_probe.c_grid == [0.1, 1.0] and cfg.amp is False
    assert cfg.augment == {"flip_prob": 0.2}


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("optim.momentum=0.9", "'optim.momentum'"),
        ("nosuchkey=1", "'nosuchkey'"),
        ("epochs=many", "'epochs' expects int"),
        ("amp=3", "'amp' expects bool"),
        ("optim=1", "'optim' expects a mapping"),
        ("strategy=magic", "strategy must be one of"),
        ("augment.nope=1", "augment.nope"),
        ("no_equals_sign", "key=value"),
    ],
)
def test_bad_overrides_raise_config_error(override, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override])
    assert fragment in str(err.value)


def test_file_then_overrides_precedence(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("epochs: 7\noptim:\n  lr: 0.01\n  schedule: onecycle\n")
    cfg = load_config(path, ["optim.lr=0.5"])
    assert (cfg.epochs, cfg.optim.lr, cfg.optim.schedule) == (7, 0.5, "onecycle")
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  lrr: 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert "optim.lrr" in str(err.value) and str(bad) in str(err.value)


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(overrides=["epochs=2", "model.encoder=resnet18"])
    path = tmp_path / "config.yaml"
    path.write_text(dump_yaml(cfg))
    assert load_config(path).to_dict() == cfg.to_dict()


def test_cli_flags_override_set_and_file(tmp_path):
    from medtl.cli.train import build_config, register

    sub = argparse.ArgumentParser().add_subparsers()
    parser = register(sub)
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 7\nbatch_size: 4\n")
    args = parser.parse_args(["--config", str(path), "--set", "epochs=9", "--set", "batch_size=2", "--epochs", "3",
                              "--image-size", "48", "--strategy", "scratch", "--quiet"])
    cfg = build_config(args)
    assert (cfg.epochs, cfg.batch_size, cfg.preprocess.image_size, cfg.strategy, cfg.quiet) == (3, 2, 48, "scratch", True)


def test_shipped_segmentation_config_loads():
    cfg = load_config(DEFAULT_YAML.parent / "segmentation.yaml")
    assert cfg.task == "segmentation" and cfg.preprocess.resize_mode == "pad_crop"
    assert cfg.augment["flip_axes"] == [0] and cfg.optim.schedule == "constant"


def test_positive_class_is_a_name_or_an_index():
    assert load_config(overrides=["positive_class=malignant"]).positive_class == "malignant"
    assert load_config(overrides=["positive_class=0"]).positive_class == "0"  # YAML int -> str
    assert TrainConfig().positive_class is None
    names = ["malignant", "normal, benign"]
    assert resolve_positive_class("malignant", names) == 0
    assert resolve_positive_class("normal, benign", names) == 1
    assert resolve_positive_class("0", names) == 0 and resolve_positive_class(1, names) == 1
    assert resolve_positive_class(None, names) == 1  # default: the last class, as before
    assert resolve_positive_class("1", ["1", "0"]) == 0  # a name wins over an index


@pytest.mark.parametrize(
    ("value", "names", "multilabel", "fragments"),
    [
        ("benign", ["malignant", "normal, benign"], False, ["'benign'", "['malignant', 'normal, benign']"]),
        ("2", ["malignant", "normal, benign"], False, ["'2'", "label names"]),
        ("-1", ["a", "b"], False, ["'-1'", "['a', 'b']"]),
        ("a", ["a", "b", "c"], False, ["binary classification only", "3-class"]),
        ("0", ["a", "b"], True, ["binary classification only", "multi-label"]),
    ],
)
def test_bad_positive_class_raises_config_error(value, names, multilabel, fragments):
    with pytest.raises(ConfigError) as err:
        resolve_positive_class(value, names, multilabel=multilabel)
    assert all(f in str(err.value) for f in fragments), str(err.value)


def test_positive_class_is_refused_for_segmentation():
    with pytest.raises(ConfigError, match="binary classification only"):
        load_config(overrides=["task=segmentation", "positive_class=lesion"])


def test_positive_class_through_cli_set():
    from medtl.cli.train import build_config, register

    parser = register(argparse.ArgumentParser().add_subparsers())
    args = parser.parse_args(["--set", "positive_class=malignant"])
    assert build_config(args).positive_class == "malignant"
