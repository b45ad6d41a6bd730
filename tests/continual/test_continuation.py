"""An --init-from run end to end with the tiny encoder: a real parent model directory (trained by
medtl.train on a tiny MedMNIST-like npz), then same-task and new-task continuation set-ups."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medtl.continual.config import ContinualConfig
from medtl.continual.continuation import old_head_name, prepare_continuation, replay_loss
from medtl.continual.parent import parent_metric, parent_source, resolve_mode
from medtl.continual.penalties import EWC, L2SP, load_penalty
from medtl.errors import ConfigError, ModelDirError
from medtl.train.old_task import evaluate_old_task


def _npz(path, n, k, channels, seed):
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, m in (("train", n), ("val", n // 3), ("test", n // 3)):
        y = rng.integers(0, k, size=(m, 1))
        x = rng.integers(0, 60, size=(m, 28, 28) + ((3,) if channels == 3 else ())).astype(np.uint8)
        for i in range(m):  # the label is where a bright square sits
            c = 4 + 5 * int(y[i, 0])
            x[i, c:c + 6, c:c + 6] = 220
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = x, y.astype(np.uint8)
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    """A parent model directory trained on task A (binary, 1 channel)."""
    train_mod = pytest.importorskip("medtl.train.trainer")
    from medtl.train import load_config

    root = tmp_path_factory.mktemp("cont")
    data = _npz(root / "a.npz", 36, 2, 1, seed=0)
    cfg = load_config(overrides=[f"data.path={data}", f"out={root / 'runA'}", "model.encoder=tiny",
                                 "strategy=scratch", "epochs=2", "preprocess.image_size=32", "quiet=true",
                                 "calibrate=false", "batch_size=8"])
    train_mod.train(cfg)
    return root / "runA"


def _child(parent_dir, num_classes):
    """A child model built like medtl.train does, with the parent's encoder loaded."""
    from safetensors.torch import load_file

    from medtl.models import ModelConfig, build_model

    torch.manual_seed(1)
    model = build_model(ModelConfig(task="classification", encoder="tiny", weights="none", spatial_dims=2,
                                    in_channels=1, num_classes=num_classes))
    state = load_file(str(parent_dir / "model.safetensors"))
    own = model.state_dict()
    model.load_state_dict({k: v for k, v in state.items() if k in own and own[k].shape == v.shape}, strict=False)
    return model


def test_parent_helpers(parent):
    from medtl.models import load_model_dir

    source = parent_source(parent)
    assert len(source.records["train"]) == 36
    before = parent_metric(parent, "auc")
    assert before is not None and 0.0 <= before <= 1.0
    loaded = load_model_dir(parent)
    # the same model through the parent's preprocessing reproduces its own test AUC
    again = evaluate_old_task(loaded.model, parent, source=source)
    assert again["auc"] == pytest.approx(before, abs=1e-6)
    assert resolve_mode("auto", loaded.info, "classification", loaded.label_names) == "same_task"
    assert resolve_mode("auto", loaded.info, "classification", ["x", "y", "z"]) == "new_task"


def test_same_task_l2sp(parent, tmp_path):
    model = _child(parent, 2)
    cfg = ContinualConfig(method="l2sp", alpha=0.1)
    cont = prepare_continuation(cfg, model, parent, task="classification", label_names=["0", "1"])
    assert cont.mode == "same_task" and cont.old_head is None and isinstance(cont.penalty, L2SP)
    task_loss = torch.tensor(0.5)
    assert cont.loss(model, task_loss).item() == pytest.approx(0.5)  # zero penalty at the start
    with torch.no_grad():
        model.heads["main"].fc.weight.add_(1.0)
    assert cont.loss(model, task_loss).item() > 0.5
    written = cont.save(tmp_path)
    assert [p.name for p in written] == ["continual.safetensors"]
    assert isinstance(load_penalty(tmp_path / "continual.safetensors", model), L2SP)
    lineage = cont.lineage(data_source="/data/more.csv", data_fingerprint="f" * 64, n_train=10, metric_after=0.9)
    entry = lineage[-1]
    assert entry["parent_model_id"] == cont.parent_info["model_id"] and entry["method"] == "l2sp"
    assert entry["params"] == {"alpha": 0.1, "beta": 0.0001}
    assert entry["old_task_metric"]["before"] == pytest.approx(parent_metric(parent))
    assert entry["old_task_metric"]["after"] == 0.9


def test_new_task_keeps_old_head_and_ewc(parent, tmp_path):
    from medtl.models import ModelConfig, load_model_dir, save_model_dir

    loaded = load_model_dir(parent)
    model = _child(parent, 3)
    cfg = ContinualConfig(method="ewc", ewc_batches=2, ewc_lambda=10.0)
    cont = prepare_continuation(cfg, model, parent, task="classification", label_names=["a", "b", "c"],
                                batch_size=4)
    old = old_head_name(loaded.info)
    assert cont.mode == "new_task" and cont.old_head == old and model.active_head == "main"
    x = torch.randn(3, 1, 32, 32)
    model.eval()
    with torch.no_grad():
        model.set_active_head(old)
        torch.testing.assert_close(model(x), loaded.model(x))  # old task still answers as before
        model.set_active_head("main")
        assert model(x).shape == (3, 3)
    assert isinstance(cont.penalty, EWC)
    fisher = cont.penalty.fisher
    assert all((f >= 0).all() for f in fisher.values())
    assert any(f.sum() > 0 for k, f in fisher.items() if k.startswith("encoder."))
    assert all(f.sum() == 0 for k, f in fisher.items() if k.startswith("heads.main."))  # new head unused
    assert cont.penalty(model).item() == 0.0
    # training the new head only never moves the old head, even with weight decay
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.5)
    before = {k: v.clone() for k, v in model.heads[old].state_dict().items()}
    for _ in range(3):
        opt.zero_grad()
        cont.loss(model, torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2]))).backward()
        opt.step()
    assert all(torch.equal(before[k], v) for k, v in model.heads[old].state_dict().items())
    assert cont.penalty(model).item() > 0.0
    # the child directory keeps both heads; the old one is usable after loading
    save_model_dir(tmp_path / "child", model, model_cfg=ModelConfig(
        task="classification", encoder="tiny", weights="none", spatial_dims=2, in_channels=1, num_classes=3),
        preprocess=loaded.preprocess, label_names=["a", "b", "c"],
        lineage=cont.lineage(data_source="b.npz", data_fingerprint="0" * 64))
    child = load_model_dir(tmp_path / "child")
    assert set(child.model.heads) == {"main", old}
    assert child.info["lineage"][-1]["params"]["old_head"] == old
    metrics = evaluate_old_task(child.model, parent, head=old)
    assert 0.0 <= metrics["auc"] <= 1.0 and child.model.active_head == "main"


def test_new_task_rehearsal_and_replay_loss(parent, tmp_path):
    model = _child(parent, 3)
    cfg = ContinualConfig(method="rehearsal", rehearsal_size=6, seed=2)
    cont = prepare_continuation(cfg, model, parent, task="classification", label_names=["a", "b", "c"])
    assert cont.routes_replay and len(cont.buffer) == 6 and cont.penalty is None
    assert cont.old_loss_fn is torch.nn.functional.cross_entropy
    new = [{"image": np.zeros((1, 28, 28), np.uint8), "label": 2} for _ in range(10)]
    mixed = cont.train_records(new)
    assert len(mixed) == 16 and sum(r["rehearsal"] for r in mixed) == 6
    replayed = [r for r in mixed if r["rehearsal"]]
    assert all(r["label"] in (0, 1) and r["image"].shape == (1, 28, 28) for r in replayed)
    assert cont.save(tmp_path)[0].name == "rehearsal.json"
    x = torch.randn(4, 1, 32, 32)
    y = torch.tensor([2, 0, 1, 1])
    flags = torch.tensor([0, 1, 0, 1])
    model.train()
    model.zero_grad()
    loss = replay_loss(model, x, y, flags, loss_fn=torch.nn.functional.cross_entropy,
                       old_loss_fn=torch.nn.functional.cross_entropy, old_head=cont.old_head)
    loss.backward()
    assert model.heads["main"].fc.weight.grad.abs().sum() > 0
    assert model.heads[cont.old_head].fc.weight.grad.abs().sum() > 0
    with torch.no_grad():
        pooled = model.forward_pooled(x)
        expect = 0.5 * torch.nn.functional.cross_entropy(model.heads["main"](pooled[[0, 2]]), y[[0, 2]]) + \
            0.5 * torch.nn.functional.cross_entropy(model.heads[cont.old_head](pooled[[1, 3]]), y[[1, 3]])
    assert loss.item() == pytest.approx(expect.item(), rel=1e-5)


def test_errors(parent, tmp_path):
    model = _child(parent, 3)
    with pytest.raises(ConfigError, match="same_task"):
        prepare_continuation(ContinualConfig(mode="same_task"), model, parent, task="classification",
                             label_names=["a", "b", "c"])
    with pytest.raises(ModelDirError):
        prepare_continuation(ContinualConfig(), model, tmp_path, task="classification", label_names=["a"])
    (tmp_path / "model.json").write_text((parent / "model.json").read_text())
    with pytest.raises(ModelDirError, match="config.yaml"):
        parent_source(tmp_path)


def test_normalize_fisher():
    from medtl.continual.continuation import normalize_fisher

    fisher = {"encoder.a": torch.tensor([1.0, 3.0]), "encoder.b": torch.tensor([0.0, 0.0]),
              "heads.main.w": torch.tensor([8.0])}
    norm = normalize_fisher(fisher)
    assert float(torch.cat([norm["encoder.a"], norm["encoder.b"]]).mean()) == pytest.approx(1.0)
    assert norm["heads.main.w"].item() == pytest.approx(8.0)  # same factor (mean over the encoder = 1)
    assert normalize_fisher({"w": torch.tensor([2.0, 4.0])})["w"].tolist() == pytest.approx([2 / 3, 4 / 3])
    with pytest.raises(ConfigError, match="zero"):
        normalize_fisher({"encoder.a": torch.zeros(3)})
