"""Series mixing orientations or image sizes are read as consistent parts (``<series>#k``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from medtl.data.discover import discover_scans, read_ref
from medtl.data.inspect import format_table, inspect_path
from medtl.errors import ScanReadError
from tests.data.mixed_series import AXIAL, CORONAL, UID, add_part, write_mixed_series

FOLDER = Path(pydicom.__file__).parent / "data" / "test_files"


@pytest.fixture
def mixed(tmp_path, small_volume) -> Path:
    """One series: 5 axial slices 8x6, 3 coronal slices 8x6, a 2-slice sagittal localizer 4x3."""
    return write_mixed_series(tmp_path / "study" / "mixed", tmp_path, small_volume)


def test_mixed_series_gives_one_ref_per_part(mixed, small_volume):
    refs = discover_scans(mixed.parent)
    assert [r.id for r in refs] == ["mixed#1", "mixed#2", "mixed#3"]
    # every part numbers its instances from 1 here, so the file names order them: ax, cor, loc
    assert [len(r.files) for r in refs] == [5, 3, 2] and {r.series_uid for r in refs} == {UID}
    assert [r.localizer for r in refs] == [False, False, True]
    assert refs[2].part_info == "2 slices 4x3, orientation [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]"
    axial, cor, loc = (read_ref(r) for r in refs)
    assert axial.spatial_shape == (8, 6, 5) and cor.spatial_shape == (8, 6, 3) and loc.spatial_shape == (4, 3, 2)
    assert np.array_equal(axial.array[0], small_volume.astype(np.float32) - 1024)
    assert np.allclose(cor.affine[:3, 1], [0, 0, -0.8])  # column direction inferior (LPS -> RAS keeps z)
    with pytest.raises(ScanReadError, match="consistent parts"):
        from medtl.data.read import read_scan

        read_scan(mixed)  # one folder read as one stack is still refused, pointing at the parts


def test_checks_still_apply_inside_a_part(tmp_path, small_volume):
    folder = tmp_path / "s"
    folder.mkdir()
    add_part(folder, tmp_path, "ax", small_volume, AXIAL, skip_slices=(2,))
    add_part(folder, tmp_path, "cor", small_volume[:, :, :3], CORONAL, series_number=3)
    gap, cor = discover_scans(folder)
    with pytest.raises(ScanReadError, match="non-uniform slice spacing"):
        read_ref(gap)
    assert read_ref(cor).spatial_shape == (8, 6, 3)


def test_inspect_lists_the_parts(mixed):
    records = inspect_path(mixed)
    assert [r["id"] for r in records] == ["mixed#1", "mixed#2", "mixed#3"]
    assert all(r["error"] is None for r in records)
    assert "localizer-like" in records[2]["warnings"][0] and "part 2" in records[1]["warnings"][0]
    table = format_table(records)
    assert "mixed#3" in table and "ok (localizer part: not scored)" in table and "3 ok, 0 failed" in table


@pytest.mark.parametrize("series", [
    "dicomdirtests/98892001/CT2N",
    "dicomdirtests/98892003/MR2",
    "dicomdirtests/98892003/MR700",
])
def test_pydicom_mixed_orientation_series_read_as_parts(series):
    if not (FOLDER / series).is_dir():
        pytest.skip(f"{series} not bundled with pydicom")
    records = inspect_path(FOLDER / series)
    parts = [r for r in records if "#" in r["id"] and r.get("warnings") and r["warnings"][0].startswith("part ")]
    assert len(parts) >= 2
    assert not [r for r in records if r["error"] and "mixed" in r["error"]["message"]]
    assert all(r["error"] is None for r in parts)


def test_pydicom_mixed_size_series_read_as_parts():
    if not FOLDER.is_dir():
        pytest.skip("pydicom test files not bundled")
    records = inspect_path(FOLDER)
    mixed = [r for r in records if r["error"] and "mixed image sizes" in r["error"]["message"]]
    assert mixed == []
    parts = [r for r in records if r.get("warnings") and r["warnings"][0].startswith("part ")]
    sizes = {tuple(r["shape"][:2]) for r in parts if r["shape"]}
    assert {(320, 240), (640, 480)} <= sizes  # the 2-file RGB series of two sizes, as 2D parts
