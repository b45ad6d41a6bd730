"""Label-fraction subsets of a training split: seeded, stratified, nested across fractions.

``medtl train --set data.label_fraction=0.25 --set data.label_seed=1`` trains on a quarter of the
training split's labels; ``medtl compare`` uses it for its label-efficiency runs. The subset is
drawn *after* the train/val/test split, from the train records only, so validation and test never
change. One seeded permutation per stratum (the class for single-label classification, the label
set for multi-label, one stratum of cases for segmentation) is cut at ``round(fraction * n)``:
the 10 % subset is therefore inside the 25 % subset of the same seed, and every arm of a
comparison trains on exactly the same cases. (sklearn's ``train_test_split`` draws each size
independently, so its subsets are not nested; hence this small function.)
"""

from __future__ import annotations

import hashlib

import numpy as np

from medtl.errors import ConfigError

# At least this many training items per stratum: one per class keeps every class in a
# classification subset; two cases let a segmentation batch hold more than one item.
MIN_PER_STRATUM = {"classification": 1, "segmentation": 2}


def _stratum(record: dict, task: str):
    if task != "classification":
        return 0
    label = record.get("label")
    if isinstance(label, (list, tuple, np.ndarray)):  # multi-label: the label set is the stratum
        return tuple(int(v) for v in np.asarray(label).reshape(-1))
    return int(label)


def _item_key(record: dict) -> str:
    """A stable identity of a record, independent of its position (arrays hash their bytes)."""
    image = record.get("image")
    if isinstance(image, np.ndarray):
        return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()
    return str(image)


def label_subset(records: list[dict], task: str, fraction: float, seed: int) -> list[dict]:
    """The records kept at ``fraction`` (in their original order); ``fraction >= 1`` keeps all.

    Items are ordered by a stable key before the seeded permutation, so the subset depends on the
    data and the seed only, not on the order the records were listed in.
    """
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"data.label_fraction must be in (0, 1], got {fraction!r}")
    if fraction >= 1.0:
        return list(records)
    strata: dict = {}
    for i, r in enumerate(records):
        strata.setdefault(_stratum(r, task), []).append(i)
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for key in sorted(strata, key=repr):
        idx = sorted(strata[key], key=lambda i: (_item_key(records[i]), i))
        order = rng.permutation(len(idx))
        n = min(len(idx), max(MIN_PER_STRATUM.get(task, 1), int(round(fraction * len(idx)))))
        keep += [idx[j] for j in order[:n]]
    return [records[i] for i in sorted(keep)]
