"""``medtl inspect``: JSON output, table, exit codes, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from medtl.cli.main import main
from medtl.data.synthetic import write_dicom_non_image, write_dicom_series


@pytest.fixture
def good(tmp_path, small_volume):
    write_dicom_series(tmp_path / "a", small_volume, series_number=1)
    write_dicom_series(tmp_path / "a", small_volume[:, :, :2], series_number=2, origin=(0, 0, 90))
    return tmp_path


def test_json_lists_one_object_per_scan_and_exits_0(good, capsys):
    assert main(["inspect", str(good), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert isinstance(records, list) and len(records) == 2
    assert sorted(r["shape"][2] for r in records) == [2, 5]
    assert all(r["format"] == "dicom" and r["error"] is None and len(r["affine"]) == 4 for r in records)


def test_any_failure_exits_1_and_is_listed(good, capsys):
    write_dicom_non_image(good / "sr.dcm")
    (good / "readme.txt").write_text("hi")
    assert main(["inspect", str(good), "--json"]) == 1
    codes = {r["id"]: (r["error"] or {}).get("code") for r in json.loads(capsys.readouterr().out)}
    assert codes["sr.dcm"] == "non_image_sop" and codes["readme.txt"] == "unsupported_format"


def test_table_output(good, capsys):
    assert main(["inspect", str(good)]) == 0
    out = capsys.readouterr().out
    assert "2 scan(s), 2 ok, 0 failed" in out and "8x6x5" in out


def test_missing_path_is_a_usage_error(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and "Traceback" not in err


def test_console_script_has_no_traceback_on_garbage(tmp_path):
    (tmp_path / "broken.dcm").write_bytes(b"\x08\x00\x05\x00" + b"\xff" * 64)  # DICOM-like start, then junk
    proc = subprocess.run([sys.executable, "-m", "medtl.cli.main", "inspect", str(tmp_path), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    (record,) = json.loads(proc.stdout)
    assert record["error"]["code"] in ("not_dicom", "no_pixel_data", "non_image_sop")
