"""Labels keyed by DICOM identifiers, joined to the series found under a folder."""

import json

import numpy as np
import pydicom
import pytest

from medtl.data import load_source
from medtl.data.layouts import infer_layout
from medtl.data.layouts.write import manifest_text
from medtl.data.synthetic import write_dicom_series
from medtl.errors import DataError


@pytest.fixture
def pacs_export(tmp_path):
    """5 series in their own folders: studies S0 (2 series), S1, S2, S3; accession A<i> per study."""
    root = tmp_path / "export"
    uids = {}
    for i, (study, number) in enumerate([(0, 1), (0, 2), (1, 1), (2, 1), (3, 1)]):
        files = write_dicom_series(root / f"st{study}" / f"se{number}", np.full((4, 3, 3), i, np.int16),
                                   patient_id=f"P{study}", series_number=number,
                                   extra_tags={"AccessionNumber": f"A{study}"})
        ds = pydicom.dcmread(files[0], stop_before_pixels=True)
        uids[f"st{study}/se{number}"] = (ds.StudyInstanceUID, ds.SeriesInstanceUID)
    return root, uids


def test_series_uid_join_lists_unmatched_rows_and_series(pacs_export):
    root, uids = pacs_export
    csv_path = root / "labels.csv"
    lines = ["SeriesInstanceUID,label"] + [f"{uids[k][1]},{lab}" for k, lab in
                                          [("st0/se1", "yes"), ("st1/se1", "no"), ("st2/se1", "yes")]]
    csv_path.write_text("\n".join(lines + ["1.2.3.999,no"]) + "\n")
    layout = infer_layout(csv_path)
    assert (layout.name, layout.task, layout.root) == ("dicom-uid-csv", "classification", root.resolve())
    assert {(r.image_text, r.label) for r in layout.rows} == {("st0/se1", "yes"), ("st1/se1", "no"),
                                                              ("st2/se1", "yes")}
    assert "1 CSV row without a series, 2 series without a row" in layout.summary
    assert any("line 5: no series with SeriesInstanceUID 1.2.3.999" in s for s in layout.left_out)
    assert sorted(s.split(":")[0] for s in layout.left_out if "series not in" in s) == [
        str(root.resolve() / "st0" / "se2"), str(root.resolve() / "st3" / "se1")]
    assert manifest_text(layout, root).splitlines()[:2] == ["image,label", "st0/se1,yes"]


def test_study_uid_labels_every_series_of_the_study_in_one_split(pacs_export, tmp_path):
    root, uids = pacs_export
    csv_path = tmp_path / "study_labels.csv"
    csv_path.write_text("StudyInstanceUID,label\n" + "".join(
        f"{uids[f'st{s}/se1'][0]},{'yes' if s % 2 else 'no'}\n" for s in range(4)))
    (tmp_path / "study_labels.json").write_text(json.dumps({"dicom_folder": "export", "modality": "CT"}))
    src = load_source(csv_path, task="classification", seed=0)
    assert sum(src.counts().values()) == 5 and src.modality == "CT" and src.label_names == ["no", "yes"]
    split_of = {r["id"]: s for s, recs in src.records.items() for r in recs}
    assert split_of["st0/se1"] == split_of["st0/se2"]
    assert src.extra["layout"].startswith("found 5 series labelled by StudyInstanceUID")


def test_accession_number_key_and_errors(pacs_export):
    root, _ = pacs_export
    csv_path = root / "acc.csv"
    csv_path.write_text("AccessionNumber,Label\nA1,yes\nA2,no\n")
    assert {r.image_text for r in infer_layout(csv_path).rows} == {"st1/se1", "st2/se1"}
    with pytest.raises(DataError, match="segmentation"):
        infer_layout(csv_path, task="segmentation")
    csv_path.write_text("AccessionNumber,label\nA1,\n")
    with pytest.raises(DataError, match="line 2: empty 'label'"):
        infer_layout(csv_path)
    csv_path.write_text("AccessionNumber,label\nZ9,yes\n")
    with pytest.raises(DataError, match="no row matched"):
        infer_layout(csv_path)


def test_study_key_manifest_keeps_the_grouping(pacs_export, tmp_path):
    root, uids = pacs_export
    (root / "labels.csv").write_text(f"StudyInstanceUID,label\n{uids['st0/se1'][0]},yes\n")
    text = manifest_text(infer_layout(root / "labels.csv"), tmp_path)
    study = uids["st0/se1"][0]
    assert text.splitlines() == ["image,label,patient_id", f"export/st0/se1,yes,{study}",
                                 f"export/st0/se2,yes,{study}"]
