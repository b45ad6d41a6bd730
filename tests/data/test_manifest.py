import pytest

from medtl.data.manifest import encode_label, label_vocabulary, read_manifest
from medtl.errors import DataError


@pytest.fixture
def folder(tmp_path):
    for name in ("a.png", "b.png", "c.png", "m.nii.gz"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "series").mkdir()
    return tmp_path


def _csv(folder, text, name="m.csv"):
    path = folder / name
    path.write_text(text)
    return path


def test_parses_relative_paths_ids_and_optional_columns(folder):
    path = _csv(folder, "Image,label,patient_id,split,extra\na.png,cat,P1,train,x\nseries,dog,,Validation,\n\n")
    rows = read_manifest(path, task="classification")
    assert [r.image for r in rows] == [str(folder / "a.png"), str(folder / "series")]
    assert [r.image_text for r in rows] == ["a.png", "series"]
    assert [r.patient_id for r in rows] == ["P1", None]
    assert [r.split for r in rows] == ["train", "val"]
    assert [r.line for r in rows] == [2, 3]


def test_missing_column_names_csv_and_line(folder):
    path = _csv(folder, "image,patient_id\na.png,P1\n")
    with pytest.raises(DataError) as err:
        read_manifest(path, task="classification")
    assert "m.csv" in str(err.value) and "line 1" in str(err.value) and "label" in str(err.value)
    with pytest.raises(DataError, match="mask"):
        read_manifest(_csv(folder, "image,label\na.png,1\n"), task="segmentation")


@pytest.mark.parametrize(
    "text, message",
    [
        ("image,label\na.png,x\nnothere.png,y\n", "line 3: image not found"),
        ("image,label,split\na.png,x,train\nb.png,y,holdout\n", "line 3: unknown split 'holdout'"),
        ("image,label\na.png,\n", "line 2: empty 'label'"),
        ("image,label\na.png,x\n./a.png,y\n", "line 3: image 'a.png' is listed twice|line 3: image './a.png'"),
        ("image,mask\na.png,gone.nii.gz\n", "line 2: mask not found"),
    ],
)
def test_row_errors_name_the_line(folder, text, message):
    task = "segmentation" if "mask" in text else "classification"
    with pytest.raises(DataError, match=message) as err:
        read_manifest(_csv(folder, text), task=task)
    assert err.value.path == str(folder / "m.csv")


def test_empty_and_missing_manifest(folder):
    with pytest.raises(DataError, match="no rows"):
        read_manifest(_csv(folder, "image,label\n"), task="classification")
    with pytest.raises(DataError) as err:
        read_manifest(folder / "none.csv", task="classification")
    assert err.value.code == "not_found"


def test_label_vocabulary_and_encoding(folder):
    rows = read_manifest(_csv(folder, "image,label\na.png,present\nb.png,absent\n"), task="classification")
    names, multi = label_vocabulary(rows)
    assert names == ["absent", "present"] and not multi
    assert [encode_label(r, names, multi, folder) for r in rows] == [1, 0]
    rows = read_manifest(_csv(folder, "image,label\na.png,2\nb.png,0\n"), task="classification")
    assert label_vocabulary(rows) == (["0", "1", "2"], False)
    rows = read_manifest(_csv(folder, "image,label\na.png,flu;cough\nb.png,fever\nc.png,cough\n"), task="classification")
    names, multi = label_vocabulary(rows)
    assert multi and names == ["cough", "fever", "flu"]
    assert encode_label(rows[0], names, multi, folder) == [1, 0, 1]
    assert label_vocabulary(rows, ["flu", "fever", "cough"])[0] == ["flu", "fever", "cough"]
    with pytest.raises(DataError, match="line 2: unknown label 'flu'"):
        encode_label(rows[0], ["cough", "fever"], True, folder)
