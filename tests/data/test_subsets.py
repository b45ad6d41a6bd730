"""Label-fraction subsets: nested across fractions, stratified, seeded, independent of record order."""

from __future__ import annotations

import numpy as np
import pytest

from medtl.data.subsets import label_subset
from medtl.errors import ConfigError


def _records(n: int = 200, classes=(0, 0, 0, 1)) -> list[dict]:
    return [{"image": f"img{i:04d}.png", "label": classes[i % len(classes)]} for i in range(n)]


def _ids(records) -> set[str]:
    return {r["image"] for r in records}


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_subsets_of_one_seed_are_nested(seed):
    recs = _records()
    sets = [_ids(label_subset(recs, "classification", f, seed)) for f in (0.1, 0.25, 0.5, 1.0)]
    assert all(a < b for a, b in zip(sets, sets[1:]))
    assert sets[-1] == _ids(recs)


def test_stratified_sizes_and_every_class_kept():
    recs = _records(200, classes=(0,) * 9 + (1,))  # 180 vs 20
    sub = label_subset(recs, "classification", 0.1, 0)
    labels = [r["label"] for r in sub]
    assert labels.count(0) == 18 and labels.count(1) == 2
    tiny = label_subset(recs, "classification", 0.01, 0)
    assert sorted({r["label"] for r in tiny}) == [0, 1]  # at least one per class


def test_seeds_differ_and_repeat():
    recs = _records()
    a, b = label_subset(recs, "classification", 0.25, 0), label_subset(recs, "classification", 0.25, 1)
    assert _ids(a) != _ids(b) and len(a) == len(b)
    assert _ids(a) == _ids(label_subset(recs, "classification", 0.25, 0))


def test_independent_of_record_order():
    recs = _records()
    shuffled = [recs[i] for i in np.random.default_rng(3).permutation(len(recs))]
    assert _ids(label_subset(recs, "classification", 0.3, 5)) == _ids(label_subset(shuffled, "classification", 0.3, 5))


def test_array_images_and_multilabel_and_segmentation():
    rng = np.random.default_rng(0)
    arrays = [{"image": rng.integers(0, 255, (4, 4), dtype=np.uint8), "label": [i % 2, (i // 2) % 2]}
              for i in range(40)]
    sub = label_subset(arrays, "classification", 0.5, 0)
    assert len(sub) == 20 and {tuple(r["label"]) for r in sub} == {(0, 0), (1, 0), (0, 1), (1, 1)}
    seg = [{"image": f"c{i}.nii.gz", "mask": f"m{i}.nii.gz"} for i in range(10)]
    assert len(label_subset(seg, "segmentation", 0.1, 0)) == 2  # at least two cases
    assert len(label_subset(seg, "segmentation", 0.5, 0)) == 5


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.5])
def test_bad_fraction_is_refused(bad):
    with pytest.raises(ConfigError, match="label_fraction"):
        label_subset(_records(), "classification", bad, 0)
