"""`medtl train --init-from` through the real training entry point, for each forgetting control."""

from __future__ import annotations

import json

import pytest

from medtl.models import load_model_dir
from medtl.train import load_config, train

from .test_continuation import _npz, parent  # noqa: F401  (module-scoped fixture: a trained task-A model)


@pytest.mark.parametrize("method", ["none", "l2sp", "ewc", "rehearsal"])
def test_new_task_continuation_records_lineage_and_keeps_old_head(parent, tmp_path, method):  # noqa: F811
    data_b = _npz(tmp_path / "b.npz", 36, 3, 1, seed=5)  # task B: 3 classes
    cfg = load_config(overrides=[
        f"data.path={data_b}", f"out={tmp_path / 'runB'}", "model.encoder=tiny", "strategy=finetune",
        "finetune.lp_init=false", "epochs=1", "preprocess.image_size=32", "quiet=true", "batch_size=8",
        f"init_from={parent}", f"continual.method={method}", "continual.ewc_batches=2",
        "continual.rehearsal_size=6", f"linear_probe.cache_dir={tmp_path / 'emb'}",
    ])
    run = train(cfg)
    child = load_model_dir(run.run_dir)
    parent_info = json.loads((parent / "model.json").read_text())
    old_heads = [h for h in child.model.heads if h != "main"]
    assert len(old_heads) == 1 and child.model.active_head == "main" and child.label_names == ["0", "1", "2"]
    (entry,) = child.info["lineage"]
    assert entry["parent_model_id"] == parent_info["model_id"] and entry["mode"] == "new_task"
    assert entry["method"] == method
    before, after = entry["old_task_metric"]["before"], entry["old_task_metric"]["after"]
    assert 0.0 <= before <= 1.0 and 0.0 <= after <= 1.0
    stored = {"l2sp": "continual.safetensors", "ewc": "continual.safetensors", "rehearsal": "rehearsal.json"}
    if method in stored:
        assert (run.run_dir / stored[method]).is_file()
