"""Seeded epoch orders (``data.min_samples_per_epoch``)."""

from __future__ import annotations

import numpy as np

from medtl.data.loader import epoch_order


def test_epoch_order_lays_whole_permutations_end_to_end():
    order = epoch_order(7, 30, seed=1, epoch=0)
    assert len(order) == 30
    for start in (0, 7, 14, 21):
        assert sorted(order[start:start + 7]) == list(range(7))  # each pass sees every item once
    counts = np.bincount(order, minlength=7)
    assert counts.max() - counts.min() <= 1


def test_epoch_order_depends_only_on_seed_and_epoch():
    assert epoch_order(9, 20, seed=3, epoch=2) == epoch_order(9, 20, seed=3, epoch=2)
    assert epoch_order(9, 20, seed=3, epoch=2) != epoch_order(9, 20, seed=3, epoch=3)
    assert epoch_order(9, 20, seed=3, epoch=2) != epoch_order(9, 20, seed=4, epoch=2)


def test_epoch_order_shares_one_epoch_between_ranks():
    whole = epoch_order(5, 11, seed=0, epoch=1)
    shares = [epoch_order(5, 11, seed=0, epoch=1, rank=r, world=3) for r in range(3)]
    assert [len(s) for s in shares] == [4, 4, 4]  # padded to a multiple of the ranks, like DistributedSampler
    assert sorted(sum(shares, [])) == sorted(whole + whole[:1])
