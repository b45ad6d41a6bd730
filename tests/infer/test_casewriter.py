"""Batch commit: a case's record appears only after its files, once the batch is synced."""

from __future__ import annotations

import json

import numpy as np
import torch

from medtl.infer.cases import collect_cases
from medtl.infer.casewriter import CaseWriter
from medtl.infer.pipeline import Item
from medtl.infer.predictor import Prediction
from medtl.models import load_model_dir

from . import helpers


def test_records_are_written_only_by_commit(cls_model, tmp_path):
    helpers.write_pngs(tmp_path / "in", 2)
    ok_case, bad_case = collect_cases([tmp_path / "in"])
    loaded = load_model_dir(cls_model)
    writer = CaseWriter(str(tmp_path / "out"), loaded, ("csv",))
    preview = (np.zeros((40, 48), np.float32), np.ones(2), np.eye(4))
    item = Item(0, True, input_sha256="ab" * 32, x=None, x_affine=np.eye(4),
                geometry={"shape": (40, 48), "affine": np.eye(4), "spacing": (1.0, 1.0)}, preview=preview)
    done = writer.finish(ok_case, item, Prediction(torch.tensor([0.25, 0.75])), record=False)
    failed = writer.failed(bad_case, "unreadable_image", "boom", record=False)
    results = tmp_path / "out" / "results"
    assert done.status == "ok" and (tmp_path / "out" / done.outputs[0]).is_file()
    assert not results.exists()  # files first; no record before the commit
    assert writer.commit([done, failed]) == [done, failed]
    records = {p.stem: json.loads(p.read_text()) for p in results.glob("*.json")}
    assert records[ok_case.case_id]["status"] == "ok" and records[ok_case.case_id]["row"]["predicted_label"] == "present"
    assert records[bad_case.case_id]["error"] == {"code": "unreadable_image", "message": "boom"}
    assert not list((tmp_path / "out").rglob(".*.tmp"))
