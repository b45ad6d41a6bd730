"""Seeded data loaders and batch targets, shared by training, pretraining and continual learning.

These sit in ``medtl.data`` (below every training package) so that ``medtl.train``,
``medtl.pretrain`` and ``medtl.continual`` can all use them without importing each other.
"""

from __future__ import annotations

import torch


def make_loader(dataset, *, batch_size: int, shuffle: bool, seed: int, epoch: int = 0, num_workers: int = 0,
                sampler=None, drop_last: bool = False):
    """A MONAI DataLoader whose order depends only on (seed, epoch): a resumed run sees the same data."""
    from monai.data import DataLoader

    g = torch.Generator()
    g.manual_seed(seed * 100_003 + epoch)
    if sampler is not None:
        shuffle = False
        if hasattr(sampler, "generator"):
            sampler.generator = g
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, sampler=sampler, generator=g,
                      num_workers=num_workers, drop_last=drop_last, persistent_workers=False)


def epoch_order(n: int, samples: int, *, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[int]:
    """The item indices of one epoch that draws ``samples`` >= ``n`` items: whole seeded permutations
    of ``range(n)`` laid end to end, cut at ``samples`` (every item is seen as often as any other,
    +-1), then, under torchrun, rank ``rank``'s share of ``world`` (padded like DistributedSampler).
    Depends only on (seed, epoch), so a resumed run draws the same items."""
    g = torch.Generator()
    g.manual_seed(seed * 100_003 + epoch)
    order = torch.cat([torch.randperm(n, generator=g) for _ in range(-(-samples // n))])[:samples]
    per_rank = -(-samples // world)
    order = torch.cat([order, order[: per_rank * world - samples]])
    return order[rank::world].tolist()


def reseed_transforms(dataset, seed: int) -> None:
    """Seed the random (augmentation) transforms so an epoch's augmentation depends only on the seed."""
    tf = getattr(dataset, "transform", None)
    if tf is not None and hasattr(tf, "set_random_state"):
        tf.set_random_state(seed=seed % (2**32))


def loss_target(batch: dict, task: str, multilabel: bool, device) -> torch.Tensor:
    """The supervised target of a collated batch: masks (segmentation), class indices or multi-hot."""
    if task == "segmentation":
        return torch.as_tensor(batch["mask"]).to(device).long()
    y = torch.as_tensor(batch["label"]).to(device)
    return y.float() if multilabel else y.long().reshape(-1)
