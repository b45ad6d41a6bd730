import numpy as np
import pytest

from medtl.data.masks import read_mask, split_mask_cell
from medtl.errors import DataError
from tests.data.layouts.folders import nifti, png


def test_split_mask_cell():
    assert split_mask_cell(" a.png ; b.png;") == ["a.png", "b.png"]


def test_union_of_0_1_and_0_255_masks(tmp_path):
    a = np.zeros((4, 3, 2), np.uint8)
    a[0, 0, 0] = 1
    b = np.zeros((4, 3, 2), np.uint8)
    b[0, 0, 0], b[3, 2, 1] = 255, 255
    merged = read_mask([nifti(tmp_path / "a.nii.gz", a), nifti(tmp_path / "b.nii.gz", b)])
    assert merged.array.dtype == np.float32 and merged.array.sum() == 2 and merged.array[0, 3, 2, 1] == 1
    assert len(merged.files) == 2


def test_non_binary_or_mismatched_masks_are_refused(tmp_path):
    a = nifti(tmp_path / "a.nii.gz", np.zeros((4, 3, 2), np.uint8))
    two = np.zeros((4, 3, 2), np.uint8)
    two[1, 1, 1] = 2
    with pytest.raises(DataError, match="only binary masks") as err:
        read_mask([a, nifti(tmp_path / "two.nii.gz", two)])
    assert err.value.path.endswith("two.nii.gz")
    with pytest.raises(DataError, match="differs"):
        read_mask([png(tmp_path / "m.png", mask_box=(0, 0)), a])
