from __future__ import annotations

import csv

import pytest

from medtl.errors import DataError
from medtl.review.actions import DecisionError, decide
from medtl.review.export import export_audit, export_manifest
from medtl.review.scores import load_scores
from medtl.review.store import COLUMNS, DecisionStore


def _read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_classification_manifest(cls3, tmp_path):
    run = load_scores(cls3)
    store = DecisionStore(tmp_path / "r.sqlite")
    ids = sorted(run.cases)
    decide(store, run, ids[0], reviewer="Dr A", action="accept")
    decide(store, run, ids[1], reviewer="Dr A", action="correct", corrected="absent", comment="artefact")
    decide(store, run, ids[2], reviewer="Dr A", action="reject")  # no label: left out
    decide(store, run, ids[3], reviewer="Dr A", action="reject")
    decide(store, run, ids[3], reviewer="Dr B", action="correct", corrected="present")  # the latest wins
    n = export_manifest(tmp_path / "r.sqlite", cls3, tmp_path / "manifest.csv")
    rows = _read(tmp_path / "manifest.csv")
    assert n == 3 and list(rows[0]) == ["image", "label", "patient_id", "split"]
    by_image = {r["image"]: r for r in rows}
    inputs = (tmp_path / "inputs").resolve()
    assert by_image[str(inputs / run.cases[ids[0]].source)]["label"] == run.cases[ids[0]].predicted_label
    assert by_image[str(inputs / run.cases[ids[1]].source)]["label"] == "absent"
    assert by_image[str(inputs / run.cases[ids[3]].source)]["label"] == "present"
    assert all(r["patient_id"] == "" and r["split"] == "" for r in rows)
    assert (tmp_path / "manifest.csv").read_text().count("\n") == 4


def test_segmentation_manifest_keeps_only_acceptable_masks(seg3, tmp_path):
    run = load_scores(seg3)
    store = DecisionStore(tmp_path / "r.sqlite")
    ids = sorted(run.cases)
    decide(store, run, ids[0], reviewer="Dr A", action="accept")
    decide(store, run, ids[1], reviewer="Dr A", action="reject")
    decide(store, run, ids[2], reviewer="Dr A", action="correct", corrected="mask_acceptable")
    with pytest.raises(DecisionError):
        decide(store, run, ids[3], reviewer="Dr A", action="correct", corrected="lesion")
    export_manifest(tmp_path / "r.sqlite", seg3, tmp_path / "m.csv")
    rows = _read(tmp_path / "m.csv")
    assert list(rows[0]) == ["image", "mask", "patient_id", "split"]
    assert sorted(r["mask"] for r in rows) == [str((seg3 / "masks" / f"{c}.nii.gz").resolve()) for c in ids[0:3:2]]


def test_manifest_is_accepted_by_the_training_data_loader(cls3, tmp_path):
    load_source = pytest.importorskip("medtl.data.source").load_source
    run = load_scores(cls3)
    store = DecisionStore(tmp_path / "r.sqlite")
    for i, case_id in enumerate(sorted(run.cases)):
        decide(store, run, case_id, reviewer="Dr A", action="correct", corrected=run.label_names[i % 2])
    export_manifest(tmp_path / "r.sqlite", cls3, tmp_path / "manifest.csv")
    source = load_source(tmp_path / "manifest.csv", task="classification")
    assert sorted(source.label_names) == ["absent", "present"]
    assert sum(len(v) for v in source.records.values()) == 4


def test_missing_input_is_a_clear_error(cls3, tmp_path):
    run = load_scores(cls3)
    store = DecisionStore(tmp_path / "r.sqlite")
    case_id = sorted(run.cases)[0]
    decide(store, run, case_id, reviewer="Dr A", action="accept")
    (tmp_path / "inputs" / run.cases[case_id].source).unlink()
    with pytest.raises(DataError, match="not found"):
        export_manifest(tmp_path / "r.sqlite", cls3, tmp_path / "m.csv")
    assert not (tmp_path / "m.csv").exists()
    with pytest.raises(DataError, match="review database not found"):
        export_manifest(tmp_path / "none.sqlite", cls3, tmp_path / "m.csv")


def test_audit_log_has_every_decision(cls3, tmp_path):
    run = load_scores(cls3)
    store = DecisionStore(tmp_path / "r.sqlite")
    case_id = sorted(run.cases)[0]
    decide(store, run, case_id, reviewer="Dr A", action="accept", comment='says "maybe", then, no')
    decide(store, run, case_id, reviewer="Dr B", action="correct", corrected="absent")
    assert export_audit(tmp_path / "r.sqlite", tmp_path / "audit.csv") == 2
    rows = _read(tmp_path / "audit.csv")
    assert list(rows[0]) == list(COLUMNS)
    assert [r["reviewer"] for r in rows] == ["Dr A", "Dr B"]
    assert rows[0]["comment"] == 'says "maybe", then, no'
    assert rows[1]["previous_value"] == rows[0]["new_value"] == run.cases[case_id].predicted_label
