"""New-task rehearsal under DistributedDataParallel: the replay loss must go through the DDP
wrapper's forward, or gradients are not averaged across processes and the replicas drift apart."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from medtl.continual.continuation import replay_loss
from medtl.models import ModelConfig, build_model


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)  # same initial weights on every rank
        model = build_model(ModelConfig(task="classification", encoder="tiny", weights="none", spatial_dims=2,
                                        in_channels=1, num_classes=2))
        model.add_head("new", 3)
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.5)
        gen = torch.Generator().manual_seed(100 + rank)  # different data on each rank
        for step in range(3):
            x = torch.randn(6, 1, 32, 32, generator=gen)
            y = torch.randint(0, 2, (6,), generator=gen)
            flags = torch.tensor([0, 1, 0, 1, 1, 0]) if step != 1 else torch.zeros(6, dtype=torch.long)
            opt.zero_grad()
            loss = replay_loss(ddp, x, y, flags, loss_fn=torch.nn.functional.cross_entropy,
                               old_loss_fn=torch.nn.functional.cross_entropy, old_head="main")
            loss.backward()
            opt.step()
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        gathered = [torch.zeros_like(flat) for _ in range(world)]
        dist.all_gather(gathered, flat)
        if rank == 0:
            torch.save({"max_diff": float((gathered[0] - gathered[1]).abs().max()),
                        "moved": float((flat - _initial(model)).abs().max())}, out)
    finally:
        dist.destroy_process_group()


def _initial(model) -> torch.Tensor:
    torch.manual_seed(0)
    fresh = build_model(ModelConfig(task="classification", encoder="tiny", weights="none", spatial_dims=2,
                                    in_channels=1, num_classes=2))
    fresh.add_head("new", 3)
    return torch.cat([p.detach().reshape(-1) for p in fresh.parameters()])


@pytest.mark.timeout(300)
def test_replicas_stay_identical_with_replay_through_ddp(tmp_path):
    out = str(tmp_path / "result.pt")
    mp.spawn(_worker, args=(2, _free_port(), out), nprocs=2, join=True)
    result = torch.load(out)
    assert result["moved"] > 1e-3  # training happened
    assert result["max_diff"] < 1e-6  # gradients were averaged: both processes hold the same weights
