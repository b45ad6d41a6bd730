"""New-task rehearsal under DistributedDataParallel: the replay loss must go through the DDP
wrapper's forward, or gradients are not averaged across processes and the replicas drift apart.

Two gloo processes under torchrun (a subprocess, like tests/train/test_distributed.py: a
multiprocessing spawn would re-import whatever ``__main__`` the test session has)."""

from __future__ import annotations

import json
import textwrap

import pytest

WORKER = textwrap.dedent('''
    import gc, json, sys
    import torch
    import torch.distributed as dist
    from medtl.continual.continuation import replay_loss
    from medtl.models import ModelConfig, build_model

    def fresh():
        torch.manual_seed(0)  # same initial weights on every rank
        model = build_model(ModelConfig(task="classification", encoder="tiny", weights="none", spatial_dims=2,
                                        in_channels=1, num_classes=2))
        model.add_head("new", 3)
        return model

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    model = fresh()
    start = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.5)
    gen = torch.Generator().manual_seed(100 + rank)  # different data on each rank
    for step in range(3):
        x = torch.randn(6, 1, 32, 32, generator=gen)
        y = torch.randint(0, 2, (6,), generator=gen)
        # step 1 has no replayed record: the old head is still touched (DDP expects every gradient)
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
        with open(sys.argv[1], "w") as fh:
            json.dump({"max_diff": float((gathered[0] - gathered[1]).abs().max()),
                       "moved": float((flat - start).abs().max())}, fh)
    # release DDP's gloo work before teardown, as DistContext.close does (see there)
    del ddp, opt, loss
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()
''')


@pytest.mark.timeout(300)
def test_replicas_stay_identical_with_replay_through_ddp(tmp_path, torchrun):
    script, out = tmp_path / "worker.py", tmp_path / "result.json"
    script.write_text(WORKER)
    proc = torchrun([script, out], cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["moved"] > 1e-3  # training happened
    assert result["max_diff"] < 1e-6  # gradients were averaged: both processes hold the same weights
