"""Multi-process training with DistributedDataParallel, launched by ``torchrun``.

``torchrun --nproc_per_node N -m medtl.cli.main train ...`` (or ``medtl train`` under torchrun)
sets RANK / WORLD_SIZE / LOCAL_RANK; :func:`init` then joins the process group (nccl on CUDA,
gloo on CPU). Each rank reads a disjoint shard of the training set (DistributedSampler); gradients
are averaged by DDP. Validation runs on every rank over the whole validation set (the weights
are identical, so every rank takes the same early-stopping decision). Only rank 0 writes files.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialised_here: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.initialised_here and torch.distributed.is_initialized():
            # A DDP wrapper caught in a reference cycle outlives fit() until the next collection; if
            # that is interpreter shutdown, gloo's worker threads free tensors after Python is gone
            # and the process aborts ("terminate called without an active exception"), failing the
            # run after its outputs were written. Collect it while the process group is alive.
            gc.collect()
            torch.distributed.destroy_process_group()


def init(device_kind: str) -> DistContext:
    """Join the process group when launched with WORLD_SIZE > 1; a no-op context otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if torch.distributed.is_initialized():
        return DistContext(rank, world, local, False)
    backend = "nccl" if device_kind == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local)
    torch.distributed.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistContext(rank, world, local, True)


def wrap(model: torch.nn.Module, ctx: DistContext, device: torch.device) -> torch.nn.Module:
    """DDP around ``model`` (rebuilt when the set of trainable parameters changes)."""
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    # A segmentation model does not use the encoder's pooled-feature layers (e.g. EfficientNet's
    # _conv_head): DDP must be told, or it waits forever for their gradients.
    unused = getattr(model, "task", None) == "segmentation"
    return DDP(model, device_ids=ids, find_unused_parameters=unused)


def train_sampler(dataset, ctx: DistContext, *, seed: int):
    if not ctx.enabled:
        return None
    from torch.utils.data.distributed import DistributedSampler

    return DistributedSampler(dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed)
