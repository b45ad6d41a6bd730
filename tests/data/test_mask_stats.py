"""Measures of one mask and the statistics of a set of training masks (mask_stats.json)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medtl.data.mask_stats import STATS_FILE, measure_mask, read_stats, summarize, training_stats, write_stats
from medtl.errors import DataError

NAMES = ["background", "a", "b"]


def _mask(shape=(20, 16, 12)) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    m[2:6, 2:6, 2:6] = 1  # 64 voxels, one part
    m[10:12, 3:5, 3:5] = 2  # 8 voxels ...
    m[14:16, 10:12, 6:8] = 2  # ... and 8 more: two parts
    return m


def test_measure_mask_sizes_parts_border_and_field_of_view():
    m = measure_mask(_mask(), (0.5, 1.0, 2.0), NAMES)
    assert m.sizes == pytest.approx({"a": 64 * 1.0 / 1000, "b": 16 * 1.0 / 1000})
    assert m.components == {"a": 1, "b": 2} and m.border_voxels == 0 and not m.empty
    assert m.extent_mm == (10.0, 16.0, 24.0) and m.spacing_mm == (0.5, 1.0, 2.0)
    edge = np.zeros((8, 8), np.uint8)
    edge[0, 3:6] = 1  # 3 pixels on the first row
    e = measure_mask(edge, (0.2, 0.2), ["bg", "x"])
    assert e.border_voxels == 3 and e.sizes["x"] == pytest.approx(3 * 0.04)
    assert measure_mask(np.zeros((4, 4, 4), np.uint8), (1, 1, 1), NAMES).empty
    specks = _mask()
    specks[18, 14, 10] = 1  # one voxel: 1/65 of label a, under MIN_PART_SHARE
    assert measure_mask(specks, (1, 1, 1), NAMES).components["a"] == 1
    specks[16:18, 14:16, 10] = 1  # 4 more voxels beside it: 5/69 of label a, a second part
    assert measure_mask(specks, (1, 1, 1), NAMES).components["a"] == 2


def test_summarize_percentiles_fractions_and_ranges():
    small, big = _mask(), _mask((30, 30, 30))
    big[:, :, :] = 0
    big[0:10, 0:10, 0:10] = 1  # touches the border; no label b
    measures = [measure_mask(small, (1, 1, 1), NAMES), measure_mask(big, (2, 1, 1), NAMES)]
    s = summarize(measures, NAMES)
    assert s["n_masks"] == 2 and s["unit"] == "mL" and s["empty_fraction"] == 0.0
    assert s["border_fraction"] == 0.5 and s["single_part_fraction"] == {"a": 1.0, "b": 0.5}
    assert s["size_p01"]["a"] == pytest.approx(0.064 + 0.01 * (2.0 - 0.064))
    assert s["extent_mm_sorted"] == {"min": [12.0, 16.0, 20.0], "max": [30.0, 30.0, 60.0]}
    assert s["spacing_mm_sorted"] == {"min": [1.0, 1.0, 1.0], "max": [1.0, 1.0, 2.0]}
    with pytest.raises(DataError):
        summarize([], NAMES)


def test_training_stats_reads_mask_files_and_round_trips(tmp_path):
    from PIL import Image

    from medtl.data.synthetic import write_nifti

    write_nifti(tmp_path / "m.nii.gz", _mask().astype(np.float32), np.diag([0.5, 1.0, 2.0, 1.0]))
    stats = training_stats([{"mask": str(tmp_path / "m.nii.gz")}], NAMES)
    assert stats["size_p99"]["a"] == pytest.approx(0.064 * 1.0) and stats["extent_mm_sorted"]["max"] == [10, 16, 24]
    png = np.zeros((10, 12), np.uint8)
    png[3:5, 3:5] = 255  # a {0, 255} mask counts as label 1
    Image.fromarray(png).save(tmp_path / "m.png")
    flat = training_stats([{"mask": str(tmp_path / "m.png")}], ["background", "vessel"])
    assert flat["unit"] == "mm2" and flat["size_p99"]["vessel"] == pytest.approx(4.0)
    write_stats(tmp_path, stats)
    assert read_stats(tmp_path) == stats
    assert read_stats(tmp_path / "nothing") is None


def test_unreadable_stats_name_the_file(tmp_path):
    (tmp_path / STATS_FILE).write_text("{not json")
    with pytest.raises(DataError, match=STATS_FILE):
        read_stats(tmp_path)
    (tmp_path / STATS_FILE).write_text(json.dumps({"format": 99}))
    with pytest.raises(DataError, match="format"):
        read_stats(tmp_path)
