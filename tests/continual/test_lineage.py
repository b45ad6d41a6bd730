"""Lineage entries and the continual config section."""

from __future__ import annotations

import pytest

from medtl.continual.config import ContinualConfig
from medtl.continual.lineage import describe, extend_lineage, lineage_entry, set_metric_after
from medtl.errors import ConfigError, ModelDirError

PARENT = {"model_id": "ab" * 32, "task": "classification", "label_names": ["malignant", "normal"],
          "lineage": [{"parent_model_id": "cd" * 32, "method": "none"}]}


def test_entry_fields_and_metric_change(tmp_path):
    entry = lineage_entry(tmp_path / "parent", PARENT, data_source="review.csv", data_fingerprint="e" * 64,
                          method="ewc", params={"ewc_lambda": 100.0}, mode="same_task", n_train=50,
                          metric_before=0.90)
    assert entry["parent_model_id"] == PARENT["model_id"]
    assert entry["parent_path"] == str((tmp_path / "parent").resolve())
    assert entry["data"] == {"source": "review.csv", "fingerprint": "e" * 64, "n_train": 50}
    assert entry["old_task_metric"] == {"name": "auc", "split": "test", "before": 0.9, "after": None,
                                        "change": None}
    set_metric_after(entry, 0.88)
    assert entry["old_task_metric"]["change"] == pytest.approx(-0.02)
    assert entry["created"].endswith("+00:00")


def test_extend_keeps_parent_history():
    entry = lineage_entry("p", PARENT, data_source="d", data_fingerprint="f", method="none")
    lineage = extend_lineage(PARENT, entry)
    assert [e.get("parent_model_id") for e in lineage] == ["cd" * 32, "ab" * 32]
    lineage[0]["method"] = "changed"
    assert PARENT["lineage"][0]["method"] == "none"  # the parent's list is copied
    assert extend_lineage({"model_id": "x"}, entry) == [entry]
    with pytest.raises(ModelDirError):
        extend_lineage({"lineage": "bad"}, entry)
    text = describe(lineage)
    assert "method none" in text and describe([]).startswith("Trained without")


def test_entry_rejects_unknown_method_or_mode():
    with pytest.raises(ConfigError, match="method"):
        lineage_entry("p", PARENT, data_source="d", data_fingerprint="f", method="magic")
    with pytest.raises(ConfigError, match="mode"):
        lineage_entry("p", PARENT, data_source="d", data_fingerprint="f", method="none", mode="auto")


def test_continual_config():
    cfg = ContinualConfig.from_dict({"method": "l2sp", "alpha": 0.5})
    assert cfg.params() == {"alpha": 0.5, "beta": 0.0001}
    assert ContinualConfig.from_dict(cfg.to_dict()) == cfg
    assert ContinualConfig.from_dict(None).method == "none"
    for bad in ({"method": "lwf"}, {"mode": "other"}, {"alpha": -1}, {"ewc_batches": 0},
                {"rehearsal_ratio": 1.0}, {"rehearsal_size": -2}):
        with pytest.raises(ConfigError):
            ContinualConfig.from_dict(bad)
    with pytest.raises(ConfigError, match="continual.bogus"):
        ContinualConfig.from_dict({"bogus": 1})
