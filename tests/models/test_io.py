import json
from dataclasses import dataclass

import pytest
import torch
from safetensors.torch import load_file, save_file

from medtl.errors import ConfigError, ModelDirError
from medtl.fileio import sha256_file
from medtl.models import LoadedModel, ModelConfig, build_model, load_model_dir, save_model_dir
from medtl.models.io import read_model_info

PRE = {"spatial_dims": 2, "image_size": [32, 32], "in_channels": 1, "intensity": "minmax", "window": None,
       "percentiles": [1.0, 99.0], "target_spacing": None, "canonical": False, "mean": [0.5], "std": [0.5],
       "resize_mode": "resize"}


def _cfg(task="classification", **kw):
    base = dict(task=task, encoder="tiny", weights="none", spatial_dims=2, in_channels=1, num_classes=2,
                decoder_channels=(16, 8, 8, 4))
    return ModelConfig(**{**base, **kw})


def _save(run_dir, task="classification", **kw):
    torch.manual_seed(0)
    cfg = _cfg(task)
    model = build_model(cfg)
    labels = ["benign", "malignant"] if task == "classification" else ["background", "lesion"]
    save_model_dir(run_dir, model, model_cfg=cfg, preprocess=PRE, label_names=labels,
                   provenance={"init_from": None}, **kw)
    return model


@pytest.mark.parametrize("task", ["classification", "segmentation"])
def test_round_trip_gives_identical_outputs(tmp_path, task):
    model = _save(tmp_path / "run", task, threshold=0.3, temperature=1.7, lineage=["abc"], extra={"note": "x"})
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["model.json", "model.safetensors"]
    loaded = load_model_dir(tmp_path / "run")
    assert isinstance(loaded, LoadedModel) and not loaded.model.training
    x = torch.randn(2, 1, 35, 32)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model.eval()(x))
    assert loaded.task == task and loaded.threshold == 0.3 and loaded.temperature == 1.7
    assert loaded.preprocess == PRE and loaded.info["note"] == "x" and loaded.info["lineage"] == ["abc"]
    assert loaded.model_id == sha256_file(tmp_path / "run" / "model.safetensors")


def test_model_json_contents(tmp_path):
    @dataclass
    class Pre:  # anything with to_dict() is accepted (PreprocessConfig)
        image_size: tuple = (32, 32)

        def to_dict(self):
            return {"image_size": self.image_size}

    cfg = _cfg()
    save_model_dir(tmp_path, build_model(cfg), model_cfg=cfg, preprocess=Pre(), label_names=["a", "b"],
                   provenance={"init_from": "/runs/old"})
    info = json.loads((tmp_path / "model.json").read_text())
    assert info["format"] == "medtl-model/1" and info["model"] == cfg.to_dict()
    assert info["preprocess"] == {"image_size": [32, 32]}
    assert info["provenance"] == {"encoder": "tiny", "weights": "none", "weights_file": None,
                                  "weights_sha256": None, "init_from": "/runs/old"}
    assert info["heads"] == {"active": "main", "outputs": {"main": 2}}
    assert info["created"].endswith("+00:00") and info["lineage"] == []
    assert read_model_info(tmp_path)["model_id"] == info["model_id"]


def test_extra_heads_round_trip(tmp_path):
    cfg = _cfg()
    model = build_model(cfg)
    model.add_head("task2", 4)
    save_model_dir(tmp_path, model, model_cfg=cfg, preprocess=PRE, label_names=list("abcd"))
    loaded = load_model_dir(tmp_path)
    assert loaded.model.active_head == "task2" and loaded.model.head_outputs() == {"main": 2, "task2": 4}
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model.eval()(x))


def test_load_needs_no_pretrained_file(tmp_path, monkeypatch):
    # "tiny" has no imagenet weights at all: building it with weights="imagenet" would fail, so a
    # successful load proves the architecture is rebuilt with weights="none".
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("MEDTL_WEIGHTS_DIR", str(empty))
    monkeypatch.setenv("TORCH_HOME", str(empty))
    monkeypatch.setenv("HOME", str(empty))
    cfg = _cfg(weights="imagenet")
    with pytest.raises(ConfigError):
        build_model(cfg)
    model = build_model(_cfg())
    save_model_dir(tmp_path / "run", model, model_cfg=cfg, preprocess=PRE, label_names=["a", "b"])
    loaded = load_model_dir(tmp_path / "run")
    assert loaded.info["model"]["weights"] == "imagenet"


def test_load_real_encoder_without_its_imagenet_file(tmp_path, monkeypatch):
    from medtl.errors import WeightsError

    empty = tmp_path / "empty"
    empty.mkdir()
    for var in ("MEDTL_WEIGHTS_DIR", "TORCH_HOME", "HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(empty))
    cfg = ModelConfig(task="classification", encoder="resnet18", weights="imagenet", spatial_dims=2,
                      in_channels=1, num_classes=2)
    with pytest.raises(WeightsError) as err:
        build_model(cfg)
    assert err.value.code == "weights_missing"
    torch.manual_seed(0)
    model = build_model(ModelConfig(**{**cfg.to_dict(), "weights": "none"})).eval()
    save_model_dir(tmp_path / "run", model, model_cfg=cfg, preprocess=PRE, label_names=["a", "b"])
    loaded = load_model_dir(tmp_path / "run")
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model(x))
    pcfg = loaded.model.encoder.pretrained_cfg
    assert pcfg.source == "file" and pcfg.sha256 == loaded.model_id and pcfg.mean == (0.5,)


def test_save_refuses_inconsistent_arguments(tmp_path):
    model = build_model(_cfg())
    with pytest.raises(ConfigError, match="label names"):
        save_model_dir(tmp_path, model, model_cfg=_cfg(), preprocess=PRE, label_names=["a", "b", "c"])
    with pytest.raises(ConfigError, match="does not describe"):
        save_model_dir(tmp_path, model, model_cfg=_cfg(spatial_dims=3), preprocess=PRE, label_names=["a", "b"])
    with pytest.raises(ConfigError, match="reserved"):
        save_model_dir(tmp_path, model, model_cfg=_cfg(), preprocess=PRE, label_names=["a", "b"],
                       extra={"task": "x"})
    assert not any(tmp_path.iterdir())


def test_positive_class_round_trips_and_defaults_to_1(tmp_path):
    _save(tmp_path / "zero", positive_class=0)
    assert json.loads((tmp_path / "zero" / "model.json").read_text())["positive_class"] == 0
    assert load_model_dir(tmp_path / "zero").positive_class == 0
    _save(tmp_path / "old")
    info = json.loads((tmp_path / "old" / "model.json").read_text())
    assert info["positive_class"] == 1
    del info["positive_class"]  # a model directory from before the key still loads, as class 1
    (tmp_path / "old" / "model.json").write_text(json.dumps(info))
    assert load_model_dir(tmp_path / "old").positive_class == 1
    _save(tmp_path / "seg", "segmentation")
    assert json.loads((tmp_path / "seg" / "model.json").read_text())["positive_class"] is None
    with pytest.raises(ConfigError, match="binary"):
        _save(tmp_path / "bad", "segmentation", positive_class=0)
    assert not (tmp_path / "bad" / "model.json").exists()


def test_missing_and_corrupt_files_raise_model_dir_error(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(ModelDirError, match="no such folder"):
        load_model_dir(run)
    _save(run)
    info_text = (run / "model.json").read_text()

    (run / "model.json").write_text("{not json")
    with pytest.raises(ModelDirError, match="not valid JSON") as err:
        load_model_dir(run)
    assert err.value.path == str(run)

    (run / "model.json").write_text(json.dumps({**json.loads(info_text), "format": "other/9"}))
    with pytest.raises(ModelDirError, match="format"):
        load_model_dir(run)

    (run / "model.json").unlink()
    with pytest.raises(ModelDirError, match="model.json is missing"):
        load_model_dir(run)

    (run / "model.json").write_text(info_text)
    (run / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelDirError, match="does not match model_id"):
        load_model_dir(run)

    (run / "model.safetensors").unlink()
    with pytest.raises(ModelDirError, match="model.safetensors is missing"):
        load_model_dir(run)


def _rewrite_weights(run, state):
    save_file(state, str(run / "model.safetensors"))
    info = json.loads((run / "model.json").read_text())
    info["model_id"] = sha256_file(run / "model.safetensors")
    (run / "model.json").write_text(json.dumps(info))


def test_weights_mismatch_raises(tmp_path):
    run = tmp_path / "run"
    _save(run)
    state = load_file(str(run / "model.safetensors"))
    key = "heads.main.fc.weight"

    _rewrite_weights(run, {k: v for k, v in state.items() if k != key})
    with pytest.raises(ModelDirError, match=f"missing keys \\(1\\): {key}") as err:
        load_model_dir(run)
    assert err.value.code == "weights_mismatch"

    _rewrite_weights(run, {**state, "extra.weight": torch.zeros(1)})
    with pytest.raises(ModelDirError, match="unexpected keys \\(1\\): extra.weight"):
        load_model_dir(run)

    _rewrite_weights(run, {**state, key: torch.zeros(3, state[key].shape[1])})
    with pytest.raises(ModelDirError, match="shape mismatches"):
        load_model_dir(run)

    (run / "model.safetensors").write_bytes(b"\x00" * 16)
    info = json.loads((run / "model.json").read_text())
    info["model_id"] = sha256_file(run / "model.safetensors")
    (run / "model.json").write_text(json.dumps(info))
    with pytest.raises(ModelDirError, match="unreadable"):
        load_model_dir(run)


def test_bad_model_config_in_json(tmp_path):
    run = tmp_path / "run"
    _save(run)
    info = json.loads((run / "model.json").read_text())
    info["model"]["encoder"] = "no-such-net"
    (run / "model.json").write_text(json.dumps(info))
    with pytest.raises(ModelDirError, match="cannot rebuild"):
        load_model_dir(run)
    info["model"].update(encoder="tiny", decoder_channels=[8], task="segmentation")
    (run / "model.json").write_text(json.dumps(info))
    with pytest.raises(ModelDirError, match="cannot rebuild.*decoder_channels") as err:
        load_model_dir(run)
    assert err.value.code == "bad_json"
    info["heads"] = {"active": "missing", "outputs": {"main": 2}}
    info["model"].update(task="classification")
    (run / "model.json").write_text(json.dumps(info))
    with pytest.raises(ModelDirError, match="bad 'heads'"):
        load_model_dir(run)


def test_wrapped_model_is_unwrapped(tmp_path):
    cfg = _cfg()
    model = build_model(cfg)

    class Wrapper(torch.nn.Module):  # like DistributedDataParallel: the model is .module
        def __init__(self, module):
            super().__init__()
            self.module = module

    save_model_dir(tmp_path, Wrapper(model), model_cfg=cfg, preprocess=PRE, label_names=["a", "b"])
    assert all(k.startswith(("encoder.", "heads.")) for k in load_file(str(tmp_path / "model.safetensors")))


def test_tied_weights_are_saved(tmp_path):
    cfg = _cfg()
    model = build_model(cfg)
    model.add_head("tied", 2, activate=False)
    model.heads["tied"].fc.weight = model.heads["main"].fc.weight  # shared storage
    save_model_dir(tmp_path, model, model_cfg=cfg, preprocess=PRE, label_names=["a", "b"])
    state = load_file(str(tmp_path / "model.safetensors"))
    assert torch.equal(state["heads.tied.fc.weight"], state["heads.main.fc.weight"])


def test_model_dir_is_a_weight_source_for_a_new_model(tmp_path):
    model = _save(tmp_path / "run")
    cfg = _cfg("segmentation", weights=str(tmp_path / "run"))
    new = build_model(cfg)
    old_state = model.encoder.state_dict()
    for key, value in new.encoder.state_dict().items():
        assert torch.equal(value, old_state[key]), key


def test_preprocess_config_round_trip(tmp_path):
    from medtl.data.transforms import PreprocessConfig

    pre = PreprocessConfig(spatial_dims=2, image_size=(48, 40), intensity="minmax", mean=(0.5,), std=(0.5,))
    cfg = _cfg()
    save_model_dir(tmp_path, build_model(cfg), model_cfg=cfg, preprocess=pre, label_names=["a", "b"])
    loaded = load_model_dir(tmp_path)
    assert loaded.preprocess_config() == pre
    loaded.preprocess = {**loaded.preprocess, "colour": 1}
    with pytest.raises(ModelDirError, match="bad 'preprocess'"):
        loaded.preprocess_config()
