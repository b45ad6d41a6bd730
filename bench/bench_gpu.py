"""GPU check: medtl's CUDA paths (AMP, DDP over nccl, scoring) with numbers, in one short run.

    OMP_NUM_THREADS=8 .venv/bin/python bench/bench_gpu.py       # docs/benchmarks/gpu.{json,md}

On a lent machine without registry or ../shared: bench/gpu_prepare.sh here, then
bench/gpu_device.sh there (docs/gpu.md).

1. ``amp``: BreastMNIST with configs/breastmnist.yaml (LP-FT, EfficientNet-Lite0, 224 px) trained on
   the GPU twice, with autocast (bf16 where the card has it, else fp16 + GradScaler) and with
   ``amp=false``: time to a trained model and test AUC/ACC of each (AMP's speed-up, and that it
   costs no accuracy).
2. ``seg3d``: MSD hippocampus with configs/hippocampus.yaml (3D residual U-Net, AMP): time and test
   Dice, to set against the CPU run in hippocampus.md.
3. ``ddp``: with 2+ GPUs, ``torchrun --nproc_per_node N -m medtl.cli.main train`` (nccl, one model
   directory); with one GPU, a one-rank nccl process group around medtl's model (DDP forward,
   backward under autocast, an all-reduce): nccl and DDP work, no cross-GPU traffic measured.
4. ``score``: ``medtl.infer.score`` on synthetic PNG cases with a 128 px EfficientNet-Lite0 model,
   without and with Grad-CAM: cases per second.
Each part is timed and independent: one that fails is recorded with its error and the next runs.
``--device cpu`` runs the same code on the CPU (the smoke test; AMP and nccl are then skipped).
Results: DOCS/gpu.{json,md}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

from common import (
    CONFIGS,
    DATA,
    ROOT,
    arm_spec,
    commands_block,
    common_overrides,
    compare_runs,
    machine_info,
    machine_line,
    markdown_table,
    write_results,
)
from manifests import hippocampus_manifest

PARTS = ("amp", "seg3d", "ddp", "score")


def _row(run: dict, metrics: tuple[str, ...]) -> dict:
    test = run.get("test") or {}
    return {"arm": run["arm"], "wall_time_s": run["wall_time_s"], "epochs": run["epochs"],
            **{m: test.get(m) for m in metrics}, "command": run["command"]}


def part_amp(args) -> dict:
    # configs/breastmnist.yaml as it is (LP-FT: the finetune kind), with and without autocast
    runs = compare_runs([arm_spec("amp", "finetune"), arm_spec("fp32", "finetune", "amp=false")],
                        CONFIGS / "breastmnist.yaml", args.breastmnist, args.work / "amp", extra=common_overrides(args))
    rows = [_row(run, ("auc", "accuracy")) for run in runs]
    return {"rows": rows, "speedup": rows[1]["wall_time_s"] / rows[0]["wall_time_s"]}


def part_seg3d(args) -> dict:
    manifest = hippocampus_manifest(args.hippocampus, args.work / "hippocampus")
    (run,) = compare_runs([arm_spec("unet-res16", "scratch")], CONFIGS / "hippocampus.yaml", manifest,
                          args.work / "seg3d", extra=common_overrides(args))  # the config as it is (scratch)
    return {"rows": [_row(run, ("dice",))]}


def part_ddp(args) -> dict:
    import torch

    n = torch.cuda.device_count() if args.device != "cpu" else 0
    if n >= 2:  # the real path: medtl train under torchrun, one rank per GPU
        out = args.work / "ddp"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n),
               "-m", "medtl.cli.main", "train", "--config", str(CONFIGS / "breastmnist.yaml"),
               "--data", str(args.breastmnist), "--out", str(out), "--device", "cuda", "--quiet"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.part_timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"torchrun failed (rc {proc.returncode}): {proc.stderr[-1500:]}")
        test = json.loads((out / "metrics.json").read_text())["test"]
        return {"world_size": n, "backend": "nccl", "wall_time_s": round(time.perf_counter() - t0, 1),
                "auc": test.get("auc"), "accuracy": test.get("accuracy"), "command": " ".join(cmd[2:])}
    return _one_rank_ddp(args)


def _one_rank_ddp(args) -> dict:
    """A one-rank process group (nccl on CUDA, gloo on CPU) around medtl's model: medtl's own
    training step (train_epoch: autocast, GradScaler with fp16, channels-last) through DDP, and an
    all-reduce."""
    import math

    import torch
    import torch.distributed as dist

    from medtl.models import ModelConfig, build_model
    from medtl.train.config import TrainConfig
    from medtl.train.loop import resolve_runtime, train_epoch
    from medtl.train.objective import SupervisedObjective

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(29500 + os.getpid() % 1000))
    cuda = args.device != "cpu" and torch.cuda.is_available()
    backend = "nccl" if cuda else "gloo"
    dist.init_process_group(backend, rank=0, world_size=1)
    try:
        cfg = TrainConfig(device="cuda" if cuda else "cpu", amp=True, quiet=True)
        rt = resolve_runtime(cfg, spatial_dims=2)
        model_cfg = ModelConfig(task="classification", encoder=args.encoder or "efficientnet-lite0", weights="none",
                                spatial_dims=2, in_channels=1, num_classes=2)
        model = build_model(model_cfg).to(rt.device)
        ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[rt.device.index] if cuda else None)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.01)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
        scaler = torch.amp.GradScaler(rt.device.type) if rt.use_scaler else None
        size, steps = args.image_size or 128, 20
        batch = {"image": torch.randn(16, 1, size, size), "label": torch.randint(0, 2, (16,))}
        step = (SupervisedObjective(torch.nn.functional.cross_entropy, "classification"), opt, sched, scaler, rt)
        train_epoch(ddp, [batch] * 3, *step, grad_clip=cfg.optim.grad_clip)  # warm-up
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = train_epoch(ddp, [batch] * steps, *step, grad_clip=cfg.optim.grad_clip)
        if cuda:
            torch.cuda.synchronize()
        step_s = (time.perf_counter() - t0) / steps
        total = torch.ones(4, device=rt.device)
        dist.all_reduce(total)
        if not math.isfinite(loss) or float(total.sum()) != 4.0:
            raise RuntimeError(f"one-rank DDP check failed: loss {loss}, all-reduce {total.tolist()}")
        del ddp, opt, step
        return {"world_size": 1, "backend": backend, "amp_dtype": str(rt.amp_dtype), "batch": 16,
                "image_size": size, "step_ms": round(step_s * 1000, 2), "loss": round(loss, 4)}
    finally:
        dist.destroy_process_group()


def part_score(args) -> dict:
    from bench_score import make_model, write_cases

    from medtl.infer.score import score

    size = args.image_size or 128
    model = make_model(args.work / "score_model", args.encoder or "efficientnet-lite0", size)
    cases = args.work / "score_cases"
    if not cases.is_dir():
        write_cases(cases, args.score_cases, size)
    rows = []
    for cam in (False, True):
        out = args.work / f"score_out_{'cam' if cam else 'nocam'}"
        res = score(model, [cases], out, batch_size=args.score_batch, workers=args.score_workers, cam=cam, quiet=True)
        if res.ok != args.score_cases or res.failed:
            raise RuntimeError(f"scored {res.ok} of {args.score_cases} cases ({res.failed} failed), see {out}")
        rows.append({"cam": cam, "cases": res.ok, "seconds": round(res.wall_s, 2),
                     "loop_cases_per_s": round(res.ok / res.loop_s, 1), "cases_per_s": round(res.ok / res.wall_s, 1)})
    return {"rows": rows, "encoder": args.encoder or "efficientnet-lite0", "image_size": size,
            "batch_size": args.score_batch, "workers": args.score_workers}


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--work", type=Path, default=Path("/tmp/medtl-bench/gpu"))
    p.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks")
    p.add_argument("--breastmnist", type=Path, default=DATA / "breastmnist" / "breastmnist.npz")
    p.add_argument("--hippocampus", type=Path, default=DATA / "msd_hippocampus")
    p.add_argument("--score-cases", type=int, default=2000)
    p.add_argument("--score-batch", type=int, default=64)
    p.add_argument("--score-workers", type=int, default=8)
    p.add_argument("--part-timeout", type=int, default=300, help="seconds for the torchrun part")
    p.add_argument("--epochs", type=int, help="override the configs' epochs (smoke test)")
    p.add_argument("--image-size", type=int, help="override the input size (smoke test)")
    p.add_argument("--encoder", help="override the encoder (smoke test: tiny)")
    args = p.parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: torch sees no CUDA device here (use --device cpu for the smoke run)")
    args.work.mkdir(parents=True, exist_ok=True)
    results = {"machine": machine_info(), "device": args.device, "parts": {}}
    if args.device == "cuda":
        props = torch.cuda.get_device_properties(0)
        results["cuda"] = {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
                           "count": torch.cuda.device_count(), "cuda": torch.version.cuda,
                           "bf16": torch.cuda.is_bf16_supported()}
    for name in args.parts:
        t0 = time.perf_counter()
        print(f"[gpu check] {name} ...", flush=True)
        try:
            res = {"ok": True, **globals()[f"part_{name}"](args)}
        except Exception as exc:  # recorded, and the next part still runs
            res = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}
        res["part_s"] = round(time.perf_counter() - t0, 1)
        results["parts"][name] = res
        print(f"[gpu check] {name}: {'ok' if res['ok'] else res['error']} ({res['part_s']} s)", flush=True)
    write_results(args.docs, "gpu", results, render(results))
    return 0 if all(r["ok"] for r in results["parts"].values()) else 1


def render(results: dict) -> str:
    md = ["# GPU check\n", f"Machine: {machine_line(results['machine'])}\n"]
    if "cuda" in results:
        c = results["cuda"]
        md.append(f"GPU: {c['count']} x {c['name']} ({c['memory_gib']} GiB), CUDA {c['cuda']}, bf16 {c['bf16']}\n")
    else:
        md.append(f"Device: {results['device']} (smoke run: no AMP, no nccl)\n")
    parts, commands = results["parts"], []
    for name, res in parts.items():
        md.append(f"## {name} ({res['part_s']} s)\n")
        if not res["ok"]:
            md.append(f"FAILED: `{res['error'][:500]}`\n")
            continue
        if name in ("amp", "seg3d"):
            metrics = [k for k in ("auc", "accuracy", "dice") if k in res["rows"][0]]
            md.append(markdown_table(["arm", "epochs", "time to model (s)", *[f"test {m}" for m in metrics]],
                                     [[r["arm"], r["epochs"], r["wall_time_s"],
                                       *[f"{r[m]:.3f}" if r[m] is not None else "n/a" for m in metrics]]
                                      for r in res["rows"]]))
            if name == "amp":
                md.append(f"\nAMP speed-up (fp32 time / AMP time): **{res['speedup']:.2f}x**\n")
            commands += res["rows"]
        elif name == "ddp":
            md.append(markdown_table(list(k for k in res if k not in ("ok", "part_s")),
                                     [[v for k, v in res.items() if k not in ("ok", "part_s")]]))
        elif name == "score":
            md.append(f"{res['encoder']} at {res['image_size']} px (random weights), batch {res['batch_size']}, "
                      f"{res['workers']} loader workers; cases/s over the whole call and over the scoring loop "
                      "alone (without model load and the final merge)\n\n")
            md.append(markdown_table(["Grad-CAM", "cases", "seconds", "cases/s", "loop cases/s"],
                                     [[r["cam"], r["cases"], r["seconds"], r["cases_per_s"], r["loop_cases_per_s"]]
                                      for r in res["rows"]]))
    if commands:
        md.append("\n" + commands_block(commands))
    return "\n".join(md)


if __name__ == "__main__":
    sys.exit(main())
