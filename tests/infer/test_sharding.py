from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from medtl.errors import MedtlError
from medtl.infer.manifest import merge
from medtl.infer.score import score
from medtl.infer.sharding import Part, part_from_env

from . import helpers

REPO = Path(__file__).resolve().parents[2]


def test_parts_are_disjoint_and_cover_everything():
    items = list(range(11))
    chosen = [Part(3, i).select(items) for i in range(3)]
    assert sorted(sum(chosen, [])) == items and chosen[1] == [1, 4, 7, 10]
    with pytest.raises(MedtlError):
        Part(2, 2)


def test_torchrun_env_selects_the_part(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    assert part_from_env() == (Part(4, 2), True)
    assert part_from_env(2, 1) == (Part(2, 1), False)  # explicit flags win


def test_two_parts_then_merge_equals_one_run(cls_model, tmp_path):
    helpers.write_pngs(tmp_path / "in", 7)
    single = score(cls_model, [tmp_path / "in"], tmp_path / "one", workers=0, quiet=True)
    assert single.merged
    out = tmp_path / "two"
    first = score(cls_model, [tmp_path / "in"], out, num_parts=2, part_id=1, workers=0, quiet=True)
    assert (first.total, first.merged) == (3, False) and not (out / "predictions.csv").exists()
    with pytest.raises(MedtlError, match="not finished"):
        merge(out)
    second = score(cls_model, [tmp_path / "in"], out, num_parts=2, part_id=0, workers=0, quiet=True)
    assert second.total == 4 and second.merged  # the last part to finish merges
    assert (out / "predictions.csv").read_text() == (tmp_path / "one" / "predictions.csv").read_text()
    manifest = json.loads((out / "run_manifest.json").read_text())
    assert manifest["parts"] == 2 and manifest["counts"]["total"] == 7
    assert manifest["cases"] == json.loads((tmp_path / "one" / "run_manifest.json").read_text())["cases"]
    (out / "predictions.csv").unlink()
    merge(out)  # `medtl score --merge` is idempotent
    assert (out / "predictions.csv").read_text() == (tmp_path / "one" / "predictions.csv").read_text()


@pytest.mark.slow
def test_torchrun_two_cpu_processes(cls_model, tmp_path, torchrun):
    helpers.write_pngs(tmp_path / "in", 9)
    out = tmp_path / "out"
    cmd = ["-m", "medtl.cli.main", "score", "--model", str(cls_model), "--input", str(tmp_path / "in"),
           "--output", str(out), "--workers", "0", "--quiet"]
    proc = torchrun(cmd, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=140, fresh=[out])
    assert proc.returncode == 0, proc.stderr[-2000:]
    parts = sorted(p.name for p in (out / "parts").iterdir())
    assert parts == ["part-0-of-2.json", "part-1-of-2.json"]
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    assert [r["case_id"] for r in rows] == [f"img_{i:03d}" for i in range(9)]
    assert json.loads((out / "run_manifest.json").read_text())["parts"] == 2
