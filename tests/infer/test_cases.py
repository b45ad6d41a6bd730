from __future__ import annotations

import pytest

from medtl.errors import MedtlError
from medtl.infer.cases import collect_cases, hashed_id, safe_id

from . import helpers


def test_safe_id_strips_suffix_and_unsafe_characters():
    assert safe_id("a/b c/x.nii.gz") == "a__b_c__x"
    assert safe_id("../../etc/passwd") == "etc__passwd"
    assert safe_id("Ünïcode/ü.png") == "n_code"


def test_files_folders_and_series_are_cases(tmp_path):
    helpers.write_pngs(tmp_path / "in" / "png", 2)
    helpers.write_ct_series(tmp_path / "in" / "two", seed=1)
    helpers.write_ct_series(tmp_path / "in" / "two", seed=2)
    cases = collect_cases([tmp_path / "in"])
    ids = [c.case_id for c in cases]
    assert len(ids) == len(set(ids)) == 4
    assert "png__img_000" in ids
    dicom = [c for c in cases if c.format == "dicom"]
    assert len(dicom) == 2 and all(c.source == "two" and len(c.files) == 10 for c in dicom)
    assert all(c.case_id.startswith("two__s") for c in dicom)


def test_manifest_csv_and_single_file(tmp_path):
    pngs = helpers.write_pngs(tmp_path / "data", 3)
    csv = tmp_path / "data" / "list.csv"
    csv.write_text("image,label\nimg_000.png,a\nimg_002.png,b\nmissing.png,a\n")
    cases = collect_cases([csv])
    assert [c.source for c in cases] == ["img_000.png", "img_002.png", "missing.png"]
    assert cases[2].error.code == "not_found"
    single = collect_cases([pngs[1]])
    assert [(c.case_id, c.source) for c in single] == [("img_001", "img_001.png")]


def test_anonymised_ids_are_salted_hashes(tmp_path):
    helpers.write_pngs(tmp_path / "SMITH_JOHN", 2)
    a = collect_cases([tmp_path / "SMITH_JOHN"], anonymise_ids=True, salt="s1")
    b = collect_cases([tmp_path / "SMITH_JOHN"], anonymise_ids=True, salt="s1")
    c = collect_cases([tmp_path / "SMITH_JOHN"], anonymise_ids=True, salt="s2")
    assert [x.case_id for x in a] == [x.case_id for x in b] != [x.case_id for x in c]
    assert all("SMITH" not in x.case_id and "img" not in x.case_id for x in a)
    assert a[0].case_id == hashed_id("s1", "img_000.png")


def test_missing_input_is_usage_error(tmp_path):
    with pytest.raises(MedtlError) as err:
        collect_cases([tmp_path / "nope"])
    assert err.value.code == "usage" and "nope" in str(err.value)
