"""Rehearsal buffer: seeded, stratified, sized; JSON round trip; npz references; mix."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pytest

from medtl.continual.rehearsal import REHEARSAL_FILE, RehearsalBuffer, mix, stratified_indices
from medtl.errors import ConfigError, DataError, ModelDirError


@dataclass
class FakeSource:  # the fields of medtl.data.DataSource the buffer uses
    records: dict
    source: str
    fingerprint: str
    label_names: list = field(default_factory=lambda: ["a", "b", "c"])
    task: str = "classification"


def _path_records(tmp_path, counts=(60, 30, 10)):
    recs = []
    for label, n in enumerate(counts):
        for i in range(n):
            recs.append({"id": f"c{label}_{i}", "image": str(tmp_path / f"img_{label}_{i}.png"),
                         "label": label, "patient_id": f"p{label}{i}"})
    return recs


def _array_source(n=40):
    recs = [{"id": f"train_{i}", "image": np.full((1, 4, 4), i, np.float32), "label": i % 2, "patient_id": None}
            for i in range(n)]
    return FakeSource(records={"train": recs, "val": [], "test": []}, source="/data/x.npz", fingerprint="f" * 64,
                      label_names=["neg", "pos"])


def test_stratified_size_and_proportions(tmp_path):
    recs = _path_records(tmp_path)
    idx = stratified_indices(recs, 20, seed=3)
    assert len(idx) == 20 and len(set(idx)) == 20
    assert Counter(recs[i]["label"] for i in idx) == {0: 12, 1: 6, 2: 2}


def test_stratified_keeps_rare_class_and_exact_size():
    recs = [{"label": 0}] * 97 + [{"label": 1}] * 2 + [{"label": 2}]
    idx = stratified_indices(recs, 5, seed=0)
    counts = Counter(recs[i]["label"] for i in idx)
    assert len(idx) == 5 and counts[1] >= 1 and counts[2] == 1


def test_stratified_seeded_and_bounds(tmp_path):
    recs = _path_records(tmp_path)
    assert stratified_indices(recs, 15, seed=7) == stratified_indices(recs, 15, seed=7)
    assert stratified_indices(recs, 15, seed=7) != stratified_indices(recs, 15, seed=8)
    assert stratified_indices(recs, 500, seed=0) == list(range(len(recs)))
    assert stratified_indices(recs, 0) == []
    with pytest.raises(ConfigError):
        stratified_indices(recs, -1)


def test_multilabel_and_unlabelled_records():
    recs = [{"label": [1, 0]}] * 10 + [{"label": [0, 1]}] * 10 + [{"mask": "m.nii.gz"}] * 5
    idx = stratified_indices(recs, 10, seed=0)
    assert len(idx) == 10
    assert Counter(repr(recs[i].get("label")) for i in idx) == {"[1, 0]": 4, "[0, 1]": 4, "None": 2}


def test_path_buffer_save_load_resolve(tmp_path):
    data = FakeSource(records={"train": _path_records(tmp_path)}, source=str(tmp_path / "m.csv"), fingerprint="a" * 64)
    buf = RehearsalBuffer.sample(data, 10, seed=1)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    path = buf.save(run_dir)
    assert path == run_dir / REHEARSAL_FILE
    obj = json.loads(path.read_text())
    assert obj["format"] == "medtl-rehearsal/1" and obj["size"] == 10 and obj["seed"] == 1
    loaded = RehearsalBuffer.load(run_dir)
    records = loaded.resolve()  # path records need no source
    assert [r["id"] for r in records] == [r["id"] for r in buf.resolve()]
    assert {r["image"] for r in records} <= {r["image"] for r in data.records["train"]}


def test_array_buffer_stores_references_and_checks_fingerprint(tmp_path):
    data = _array_source()
    buf = RehearsalBuffer.sample(data, 6, seed=0)
    buf.save(tmp_path / "rehearsal.json")
    text = (tmp_path / "rehearsal.json").read_text()
    assert '"ref"' in text and "image" not in text  # no pixel data in the JSON
    loaded = RehearsalBuffer.load(tmp_path / "rehearsal.json")
    records = loaded.resolve(data)
    assert len(records) == 6
    for r in records:
        i = int(r["id"].split("_")[1])
        assert r["image"][0, 0, 0] == i and r["label"] == i % 2
    changed = _array_source()
    changed.fingerprint = "0" * 64
    with pytest.raises(DataError, match="changed"):
        loaded.resolve(changed)
    with pytest.raises(DataError, match="no longer exists"):
        loaded.resolve()  # /data/x.npz is absent


def test_load_errors(tmp_path):
    with pytest.raises(ModelDirError, match="not found"):
        RehearsalBuffer.load(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(ModelDirError) as info:
        RehearsalBuffer.load(bad)
    assert str(bad) in str(info.value)
    with pytest.raises(DataError):
        RehearsalBuffer.sample(FakeSource(records={"train": []}, source="s", fingerprint="x"), 3)


def test_mix_flags_shuffles_and_ratio():
    new = [{"id": f"n{i}", "label": 0} for i in range(30)]
    old = [{"id": f"o{i}", "label": 1} for i in range(5)]
    mixed = mix(new, old, seed=0)
    assert len(mixed) == 35 and mix(new, old, seed=0) == mixed and mix(new, old, seed=1) != mixed
    assert sum(r["rehearsal"] for r in mixed) == 5
    assert all(r["rehearsal"] == int(r["id"].startswith("o")) for r in mixed)
    assert "rehearsal" not in new[0]  # inputs untouched
    assert [r["id"] for r in mixed[:10]] != [f"n{i}" for i in range(10)]
    half = mix(new, old, ratio=0.5, seed=0)
    assert sum(r["rehearsal"] for r in half) == 30 and len(half) == 60
    assert mix(new, [], ratio=0.5) and sum(r["rehearsal"] for r in mix(new, [], ratio=0.5)) == 0
    with pytest.raises(ConfigError):
        mix(new, old, ratio=1.0)
