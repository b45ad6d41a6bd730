"""Arm specs -> ``medtl train`` overrides."""

from __future__ import annotations

import pytest

from medtl.compare.arms import Arm, default_arm_specs, needs_own_weights, parse_arms, random_init_warning
from medtl.errors import ConfigError
from medtl.train.config import load_config


def test_kinds_and_per_arm_overrides():
    base = load_config(overrides=["model.encoder=tiny", "model.weights=imagenet"])
    scratch, probe, ft = parse_arms(["scratch", "linear-probe", "finetune:optim.lr=1e-4:epochs=3"], base)
    assert scratch.overrides == ("strategy=scratch", "model.weights=none")
    assert probe.overrides == ("strategy=linear-probe",)
    assert ft.overrides == ("strategy=finetune", "optim.lr=1e-4", "epochs=3") and ft.user == ("optim.lr=1e-4", "epochs=3")
    assert ft.name == "finetune_optim.lr=1e-4_epochs=3"


def test_seeds_option_is_the_arms_not_a_training_override():
    base = load_config(overrides=["model.encoder=tiny", "model.weights=imagenet"])
    probe, ft = parse_arms(["linear-probe:augment.enabled=false:seeds=1", "finetune:seeds=2:epochs=3"], base)
    assert probe.seeds == 1 and probe.overrides == ("strategy=linear-probe", "augment.enabled=false")
    assert probe.name == "linear-probe_augment.enabled=false"  # the same runs whatever the seed count
    assert ft.seeds == 2 and ft.user == ("epochs=3",)
    assert parse_arms(["scratch"], base)[0].seeds is None
    for bad in ("scratch:seeds=0", "scratch:seeds=all"):
        with pytest.raises(ConfigError, match="seeds= takes how many"):
            parse_arms([bad], base)


def test_pretrained_train_run_dir(source_run):
    base = load_config(overrides=["model.encoder=tiny"])
    (arm,) = parse_arms([f"pretrained:{source_run}:optim.lr=0.001"], base)
    assert arm.kind == "pretrained" and arm.name == "pretrained-run_optim.lr=0.001"
    assert arm.overrides[:2] == ("strategy=finetune", f"model.weights={source_run.resolve()}")
    assert arm.overrides[-1] == "optim.lr=0.001"


def test_pretrained_pretraining_dir_gets_the_ssl_recipe(blobs_npz, tmp_path):
    import json

    from medtl.pretrain import load_pretrain_config, pretrain

    cfg = load_pretrain_config(overrides=[f"data.path={blobs_npz}", f"out={tmp_path / 'ssl'}",
                                          "model.encoder=tiny", "epochs=1", "batch_size=8",
                                          "preprocess.image_size=32", "quiet=true", "device=cpu"])
    pretrain(cfg)
    assert json.loads((tmp_path / "ssl" / "model.json").read_text())["pretraining"]
    base = load_config(overrides=["model.encoder=tiny", "task=segmentation", "optim.lr=0.003"])
    (arm,) = parse_arms([f"pretrained:{tmp_path / 'ssl'}"], base)
    assert "optim.encoder_lr=0.003" in arm.overrides and "finetune.freeze_bn=false" in arm.overrides
    assert "model.pretrained_decoder=true" in arm.overrides


@pytest.mark.parametrize("spec, match", [
    ("transfer", "unknown arm"),
    ("pretrained", "needs a model directory"),
    ("finetune:lr", "not a KEY=VALUE"),
])
def test_bad_specs(spec, match):
    with pytest.raises(ConfigError, match=match):
        parse_arms([spec], load_config(overrides=["model.weights=imagenet"]))


def test_missing_pretrained_dir_and_duplicate_names_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="not a medtl model directory"):
        parse_arms([f"pretrained:{tmp_path}"], load_config())
    with pytest.raises(ConfigError, match="used twice"):
        parse_arms(["scratch", "scratch"], load_config())
    with pytest.raises(ConfigError, match="letters, digits"):
        parse_arms(["my arm=scratch"], load_config())


def test_named_arms():
    a, b = parse_arms(["low=finetune:optim.lr=1e-5", "high=finetune:optim.lr=1e-3"],
                      load_config(overrides=["model.weights=imagenet"]))
    assert (a.name, a.kind, a.overrides) == ("low", "finetune", ("strategy=finetune", "optim.lr=1e-5"))
    assert b.name == "high"


def test_random_init_transfer_arms_are_flagged():
    base = load_config(overrides=["model.weights=none"])
    probe, ft, scratch = parse_arms(["linear-probe", "finetune:model.weights=imagenet", "scratch"], base)
    assert "not transfer" in random_init_warning(probe, base)
    assert random_init_warning(ft, base) is None and random_init_warning(scratch, base) is None


def test_arms_that_need_weights_of_their_own():
    base = load_config(overrides=["model.weights=imagenet"])
    scratch, probe, ft, mine, mednet = parse_arms(
        ["scratch", "linear-probe", "finetune", "mine=linear-probe:model.weights=/runs/ssl",
         "mednet=finetune:model.weights=medicalnet"], base)
    assert [needs_own_weights(a, base) for a in (scratch, probe, ft, mine, mednet)] == [
        False, False, False, True, True]
    assert needs_own_weights(Arm("ssl", "pretrained", ("model.weights=/runs/ssl",), source="/runs/ssl"), base)
    # the base config's own source counts too
    local = load_config(overrides=["model.weights=/runs/ssl"])
    assert needs_own_weights(parse_arms(["linear-probe"], local)[0], local)
    assert not needs_own_weights(parse_arms(["scratch"], local)[0], local)


def test_default_arms_follow_the_weight_source():
    assert default_arm_specs(load_config(overrides=["model.weights=imagenet"]))[0] == [
        "scratch", "linear-probe", "finetune"]
    specs, why = default_arm_specs(load_config(overrides=["model.weights=none"]))
    assert specs == ["scratch"] and "pretrained:RUN_DIR" in why
