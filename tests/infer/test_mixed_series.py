"""Scoring the parts of a DICOM series mixing orientations and sizes, each with its own geometry."""

from __future__ import annotations

import json

import nibabel as nib

from medtl.data import read_ref
from medtl.infer.cases import collect_cases
from medtl.infer.score import score
from tests.data.mixed_series import write_mixed_series


def test_parts_are_cases_and_localizers_are_left_out(tmp_path, small_volume, capsys):
    folder = write_mixed_series(tmp_path / "in" / "mixed", tmp_path / "scratch", small_volume)
    cases = collect_cases([tmp_path / "in"])
    assert [c.case_id for c in cases] == ["mixed__p1", "mixed__p2"]
    assert "not scored" in capsys.readouterr().err
    every = collect_cases([tmp_path / "in"], localizers=True)
    assert [c.case_id for c in every] == ["mixed__p1", "mixed__p2", "mixed__p3"]
    assert all(c.path == str(folder) for c in every)


def test_score_writes_each_part_with_its_geometry(tmp_path, small_volume, seg_model):
    write_mixed_series(tmp_path / "in" / "mixed", tmp_path / "scratch", small_volume)
    out = tmp_path / "out"
    summary = score(seg_model, [tmp_path / "in"], out, workers=0, batch_size=2, quiet=True,
                    formats=("csv", "nifti"))
    assert (summary.total, summary.ok) == (2, 2)
    refs = {c.case_id: c.ref for c in collect_cases([tmp_path / "in"])}
    for case_id in ("mixed__p1", "mixed__p2"):
        mask = nib.load(out / "masks" / f"{case_id}.nii.gz")
        scan = read_ref(refs[case_id])
        assert mask.shape == scan.spatial_shape
        assert abs(mask.affine - scan.affine).max() < 1e-4
    run = json.loads((out / "run_manifest.json").read_text())
    assert set(run["cases"]) == {"mixed__p1", "mixed__p2"}
    summary = score(seg_model, [tmp_path / "in"], tmp_path / "out2", workers=0, quiet=True, formats=("csv",),
                    localizers=True)
    assert (summary.total, summary.ok) == (3, 3)
