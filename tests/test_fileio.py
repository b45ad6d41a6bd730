import json
import os

import pytest

from medtl.errors import MedtlError
from medtl.fileio import atomic_write, atomic_write_json, confined, confined_child, sha256_file, sha256_files


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "out" / "a.json"
    atomic_write_json(target, {"x": 1})
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as fh:
            fh.write("partial")
            raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"x": 1}
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]  # no temp file left


def test_confined_refuses_escape(tmp_path):
    assert confined(tmp_path, "a/b.txt") == (tmp_path / "a" / "b.txt").resolve()
    with pytest.raises(MedtlError) as info:
        confined(tmp_path, "../evil.txt")
    assert info.value.code == "unsafe_path"


def test_sha256_of_several_files_ignores_order(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"1")
    b.write_bytes(b"2")
    assert sha256_files([a, b]) == sha256_files([b, a])
    assert sha256_file(a) == "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"
    assert os.path.getsize(a) == 1


def test_confined_child_refuses_unsafe_names_and_escaping_symlinks(tmp_path):
    out = confined(tmp_path / "out", "cases")
    out.mkdir(parents=True)
    assert confined_child(out, "case_1") == out / "case_1"
    for bad in ("", ".", "..", "a/b", "x\0y"):
        with pytest.raises(MedtlError, match="unsafe"):
            confined_child(out, bad)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (out / "planted").symlink_to(outside)
    with pytest.raises(MedtlError, match="outside the output folder"):
        confined_child(out, "planted")
    (out / "inner").symlink_to(out / "case_1")  # a link that stays inside is allowed
    assert confined_child(out, "inner") == (out / "case_1").resolve()
