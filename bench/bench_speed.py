"""Speed, side by side in one run: probe vs fine-tune, cached vs decoded input pipeline, step overhead.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_speed.py
    .venv/bin/python bench/bench_speed.py --parts step pipeline      # a subset

1. ``probe``: BreastMNIST time-to-model for a linear probe with a cold embedding cache, the same
   probe again with a warm cache (a second run reusing the embeddings), and fine-tuning (LP-FT,
   configs/breastmnist.yaml); test AUC/ACC of each (the accuracy gap).
2. ``pipeline``: the hippocampus training input pipeline (medtl.train.data.build_datasets, the
   configs/hippocampus.yaml preprocessing + augmentation) iterated for several epochs with the
   decoded-volume memory cache vs decoding every epoch (``data.cache=none``). Target >= 3x.
3. ``step``: medtl's training step (medtl.train.loop.train_epoch with SupervisedObjective: autocast context, loss target,
   gradient clipping, scheduler, progress bar) vs a plain hand-written PyTorch loop doing the same
   maths on the same model, optimizer and batch; rounds interleaved, median per step. Target <= 10 %.
Results: docs/benchmarks/speed.{json,md}.
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from common import (
    CONFIGS,
    DATA,
    arm_spec,
    base_parser,
    commands_block,
    common_overrides,
    compare_runs,
    machine_info,
    machine_line,
    markdown_table,
    write_results,
)
from manifests import hippocampus_manifest

PARTS = ("probe", "pipeline", "step")


def probe_vs_finetune(args, work: Path, log=print) -> dict:
    config = CONFIGS / "breastmnist.yaml"
    data = args.data or DATA / "breastmnist" / "breastmnist.npz"
    probe = ["augment.enabled=false", f"linear_probe.cache_dir={work / 'embeddings'}"]
    # LP-FT computes its own probe (on augmented train images): a cache of its own, timed in full.
    finetune = [f"linear_probe.cache_dir={work / 'embeddings-ft'}"]
    # in this order: the second probe finds the embeddings the first one wrote
    arms = [arm_spec("probe_cold_cache", "linear-probe", *probe), arm_spec("probe_warm_cache", "linear-probe", *probe),
            arm_spec("finetune", "finetune", *finetune)]
    rows = {}
    for row in compare_runs(arms, config, data, work / "probe", extra=common_overrides(args), log=log):
        rows[row["arm"]] = row  # time_to_model_s: the whole medtl train call, model building and writing included
        log(f"[probe] {row['arm']}: {row['time_to_model_s']:.1f} s, test auc {row['test']['auc']:.4f}")
    gap = {m: rows["finetune"]["test"][m] - rows["probe_cold_cache"]["test"][m] for m in ("auc", "accuracy")}
    return {"runs": rows, "finetune_minus_probe": gap,
            "speedup_warm_vs_finetune": rows["finetune"]["time_to_model_s"] / rows["probe_warm_cache"]["time_to_model_s"],
            "speedup_cold_vs_finetune": rows["finetune"]["time_to_model_s"] / rows["probe_cold_cache"]["time_to_model_s"]}


def _iterate(ds, cfg, epochs: int) -> list[float]:
    from medtl.train.data import make_loader, reseed_transforms

    times = []
    for epoch in range(epochs):
        reseed_transforms(ds, epoch)
        t0 = time.perf_counter()
        for _ in make_loader(ds, batch_size=cfg.batch_size, shuffle=True, seed=0, epoch=epoch):
            pass
        times.append(time.perf_counter() - t0)
    return times


def pipeline_cache(args, work: Path, log=print) -> dict:
    from medtl.data import load_source
    from medtl.models import create_encoder
    from medtl.train import load_config
    from medtl.train.data import build_datasets, derive_preprocess

    manifest = hippocampus_manifest(args.hippocampus, work / "hippocampus")
    out = {}
    for mode in ("memory", "none"):
        cfg = load_config(CONFIGS / "hippocampus.yaml", [*common_overrides(args), f"data.cache={mode}"])
        source = load_source(manifest, task="segmentation")
        enc = create_encoder(cfg.model.encoder, weights="none", spatial_dims=3, in_channels=source.in_channels)
        pre = derive_preprocess(cfg, source, enc.pretrained_cfg, source.in_channels)
        t0 = time.perf_counter()
        ds = build_datasets(cfg, source, pre)["train"]
        build = time.perf_counter() - t0
        epochs = _iterate(ds, cfg, args.pipeline_epochs)
        out[mode] = {"build_s": round(build, 3), "epoch_s": [round(t, 3) for t in epochs],
                     "median_epoch_s": statistics.median(epochs), "n_items": len(ds)}
        log(f"[pipeline] cache={mode}: build {build:.1f} s, epochs {[round(t, 1) for t in epochs]}")
    m, n = out["memory"], out["none"]
    out["speedup_per_epoch"] = n["median_epoch_s"] / m["median_epoch_s"]
    k = args.pipeline_epochs
    out["speedup_incl_cache_build"] = (n["build_s"] + k * n["median_epoch_s"]) / (m["build_s"] + k * m["median_epoch_s"])
    return out


def step_overhead(args, log=print) -> dict:
    import torch

    from medtl.models import ModelConfig, build_model
    from medtl.train import load_config
    from medtl.train.loop import Runtime, train_epoch
    from medtl.train.objective import SupervisedObjective
    from medtl.train.optim import build_optimizer, build_scheduler
    from medtl.train.strategies import make_plan, optimizer_groups, set_train_mode

    cfg = load_config(CONFIGS / "breastmnist.yaml", common_overrides(args))
    size, bs, steps, rounds = args.step_size, cfg.batch_size, args.step_steps, args.step_rounds
    torch.manual_seed(0)
    model = build_model(ModelConfig(task="classification", encoder=cfg.model.encoder, weights="none", spatial_dims=2,
                                    in_channels=1, num_classes=2))
    plan = make_plan(cfg, len(model.encoder.param_groups()))
    set_train_mode(model, plan)
    optimizer = build_optimizer(optimizer_groups(model, plan, cfg.optim.weight_decay), cfg)
    scheduler = build_scheduler(optimizer, cfg, steps * rounds * 2 + 2)
    loss_fn = torch.nn.CrossEntropyLoss()
    objective = SupervisedObjective(loss_fn, "classification")
    x, y = torch.randn(bs, 1, size, size), torch.randint(0, 2, (bs,))
    batches = [{"image": x, "label": y}] * steps
    rt = Runtime(device=torch.device("cpu"), quiet=True)
    params = [p for g in optimizer.param_groups for p in g["params"]]

    def plain() -> None:  # the same maths, hand-written
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
            optimizer.step()
            scheduler.step()

    def medtl_step() -> None:
        train_epoch(model, batches, objective, optimizer, scheduler, None, rt, grad_clip=cfg.optim.grad_clip)

    plain()  # warm-up (allocator, first-call costs)
    times = {"medtl": [], "plain": []}
    for r in range(rounds):
        order = (("medtl", medtl_step), ("plain", plain)) if r % 2 == 0 else (("plain", plain), ("medtl", medtl_step))
        for name, fn in order:
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) / steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    overhead = med["medtl"] / med["plain"] - 1
    log(f"[step] medtl {med['medtl'] * 1000:.1f} ms/step, plain {med['plain'] * 1000:.1f} ms/step, "
        f"overhead {100 * overhead:+.1f} %")
    return {"encoder": cfg.model.encoder, "batch": [bs, 1, size, size], "steps_per_round": steps, "rounds": rounds,
            "s_per_step": {k: [round(t, 5) for t in v] for k, v in times.items()},
            "median_s_per_step": med, "overhead": overhead}


def _measured(part: dict) -> str:
    """Where and how one part was measured (parts kept by ``--merge`` come from earlier runs)."""
    m = part["measured"]
    return (f"Measured: {machine_line(m['machine'])}. Command: "
            f"`{shlex.join(['python', 'bench/bench_speed.py', *m['argv']])}` (1-min load average at the start: "
            f"{m.get('load_avg_1m_start', '?')}).\n\n")


def markdown(res: dict) -> str:
    md = ["# Speed\n\nEach part ran in one process, its arms side by side; the machine, command and load of "
          "each are given with it (`--merge` keeps the parts not rerun).\n"]
    if "probe" in res:
        p = res["probe"]
        rows = [[k, f"{r['time_to_model_s']:.1f}", f"{r['test']['auc']:.4f}", f"{r['test']['accuracy']:.4f}"]
                for k, r in p["runs"].items()]
        md.append("## Linear probe (embedding cache) vs fine-tuning, BreastMNIST\n\n" + _measured(p)
                  + markdown_table(["run", "time to model (s)", "test AUC", "test ACC"], rows)
                  + f"\nFine-tune minus probe: AUC {p['finetune_minus_probe']['auc']:+.4f}, ACC "
                    f"{p['finetune_minus_probe']['accuracy']:+.4f}. Fine-tuning takes "
                    f"{p['speedup_cold_vs_finetune']:.1f}x the cold-cache probe's time and "
                    f"{p['speedup_warm_vs_finetune']:.1f}x the warm-cache probe's.\n\n"
                  + commands_block(list(p["runs"].values())))
    if "pipeline" in res:
        p = res["pipeline"]
        rows = [[k, p[k]["n_items"], f"{p[k]['build_s']:.1f}", f"{p[k]['median_epoch_s']:.2f}",
                 " ".join(f"{t:.1f}" for t in p[k]["epoch_s"])] for k in ("memory", "none")]
        md.append("## Input pipeline: decoded-volume cache vs decoding every epoch, hippocampus train split\n\n"
                  + _measured(p) + markdown_table(["data.cache", "items", "build (s)", "median epoch (s)", "epochs (s)"], rows)
                  + f"\nPer-epoch speed-up of the cache: **{p['speedup_per_epoch']:.1f}x** (target >= 3x); "
                    f"including the one-off cache build over {len(p['memory']['epoch_s'])} epochs: "
                    f"{p['speedup_incl_cache_build']:.1f}x. Both include the same random augmentation.\n")
    if "step" in res:
        s = res["step"]
        md.append("## Training step: medtl vs a plain PyTorch loop\n\n" + _measured(s)
                  + markdown_table(["loop", "median ms / step"],
                                   [[k, f"{v * 1000:.1f}"] for k, v in s["median_s_per_step"].items()])
                  + f"\n{s['encoder']}, batch {s['batch']}, {s['rounds']} interleaved rounds of "
                    f"{s['steps_per_round']} steps. medtl overhead: **{100 * s['overhead']:+.1f} %** (target <= 10 %).\n")
    return "\n".join(md)


def main(argv=None) -> int:
    p = base_parser(__doc__.splitlines()[0], seeds=(0,), name="speed")
    p.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    p.add_argument("--hippocampus", type=Path, default=DATA / "msd_hippocampus", help="MSD Task04 folder")
    p.add_argument("--pipeline-epochs", type=int, default=3)
    p.add_argument("--step-size", type=int, default=128, help="image size of the step benchmark")
    p.add_argument("--step-steps", type=int, default=10)
    p.add_argument("--step-rounds", type=int, default=6)
    args = p.parse_args(argv)
    work = args.work / datetime.now(UTC).strftime("run-%Y%m%d-%H%M%S")  # fresh: timings, not reuse
    load0 = round(os.getloadavg()[0], 2)
    res: dict = {}
    if "step" in args.parts:
        res["step"] = step_overhead(args)
    if "pipeline" in args.parts:
        res["pipeline"] = pipeline_cache(args, work)
    if "probe" in args.parts:
        res["probe"] = probe_vs_finetune(args, work)
    info = machine_info()
    argv = list(sys.argv[1:] if argv is None else argv)
    for part in res.values():
        part["measured"] = {"machine": info, "argv": argv, "load_avg_1m_start": load0}
    published = Path(args.docs) / "speed.json"
    if args.merge and published.is_file():
        res = merge_parts(json.loads(published.read_text(encoding="utf-8")), res)
    res = {k: res[k] for k in PARTS if k in res}
    write_results(args.docs, "speed", {"benchmark": "speed", "machine": info, "argv": argv, **res}, markdown(res))
    return 0


def merge_parts(published: dict, new: dict) -> dict:
    """The parts just measured, plus the published ones not rerun (each keeps its own machine/command)."""
    merged = dict(new)
    for name in PARTS:
        if name not in merged and name in published:
            merged[name] = published[name]
    return merged


if __name__ == "__main__":
    raise SystemExit(main())
