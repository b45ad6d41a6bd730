"""Benchmark `medtl score` against a naive loop and the model's raw forward rate.

    .venv/bin/python bench/bench_score.py --cases 500 --out bench/results/bench_score.json

1. raw: forward passes on preloaded, preprocessed tensors (batched; the ceiling), without and with
   Grad-CAM (the scorer's CamEngine: one forward pass + a backward pass through the head).
2. naive: for each case read, preprocess, predict (batch 1), write the same per-case files
   (preview.npz, case.json, a predictions line), without and with Grad-CAM (the same CamEngine,
   batch 1, its map resampled onto the preview).
3. score(): the pipelined scorer (DataLoader workers, batches, writer threads), without and with
   Grad-CAM.
4. peak RSS of a scoring process (plus its loader workers) at 100 and 1000 cases (tiny model),
   which must stay flat as the number of cases grows.
Ratios compare like with like: score vs naive and score vs raw, each without CAM and with CAM.
Everything runs in one process on the same synthetic data, so the ratios are comparable even on a
noisy shared machine; ``--repeat N`` runs phases 1-3 N times and the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def write_cases(folder: Path, n: int, size: int) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = (rng.random((size, size)) * 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"case_{i:05d}.png")


def make_model(path: Path, encoder: str, size: int) -> Path:
    import torch

    from medtl.data import PreprocessConfig
    from medtl.models import ModelConfig, build_model, save_model_dir

    torch.manual_seed(0)
    cfg = ModelConfig(task="classification", encoder=encoder, weights="none", spatial_dims=2, in_channels=1,
                      num_classes=2)
    pre = PreprocessConfig(spatial_dims=2, image_size=(size, size), in_channels=1, intensity="uint8")
    save_model_dir(path, build_model(cfg).eval(), model_cfg=cfg, preprocess=pre, label_names=["a", "b"])
    return path


def _predict_fn(loaded, cam: bool, example):
    """logits (and CAMs) for a batch: the plain forward pass, or the scorer's Grad-CAM engine."""
    from medtl.models import predict_logits

    if not cam:
        return lambda x: (predict_logits(loaded.model, x), None)
    from medtl.infer.cam import CamEngine

    return CamEngine(loaded.model, example)


def raw_rate(model_dir: Path, data: Path, batch_size: int, *, cam: bool = False) -> float:
    import torch

    from medtl.data import PreprocessConfig, build_transforms, read_scan
    from medtl.models import load_model_dir

    loaded = load_model_dir(model_dir)
    tf = build_transforms(PreprocessConfig.from_dict(loaded.preprocess), train=False)
    x = torch.stack([tf({"image": read_scan(p)})["image"].as_tensor() for p in sorted(data.glob("*.png"))])
    predict = _predict_fn(loaded, cam, x[:1])
    predict(x[:batch_size])  # warm-up
    t = time.perf_counter()
    for i in range(0, len(x), batch_size):
        predict(x[i : i + batch_size])
    return len(x) / (time.perf_counter() - t)


def naive_rate(model_dir: Path, data: Path, out: Path, limit: int, *, cam: bool = False) -> float:
    import torch

    from medtl.data import PreprocessConfig, build_transforms, read_scan
    from medtl.fileio import append_line
    from medtl.infer.geometry import cam_to_preview, make_preview
    from medtl.infer.outputs import write_case_json, write_preview
    from medtl.models import load_model_dir

    loaded = load_model_dir(model_dir)
    tf = build_transforms(PreprocessConfig.from_dict(loaded.preprocess), train=False)
    paths = sorted(data.glob("*.png"))[:limit]
    predict = None
    t = time.perf_counter()
    for path in paths:
        scan = read_scan(path)
        x = tf({"image": scan})["image"]
        predict = predict or _predict_fn(loaded, cam, x.as_tensor()[None])
        logits, maps = predict(x.as_tensor()[None])
        p = torch.softmax(logits, 1)[0].tolist()
        image, spacing, affine = make_preview(scan.array, scan.affine, False)
        extra = {} if maps is None else {"cam": cam_to_preview(maps[0], x.affine.numpy(), affine, image.shape)}
        write_preview(out / path.stem / "preview.npz", image=image, spacing=spacing, affine=affine, **extra)
        write_case_json(out / path.stem / "case.json", {"case_id": path.stem, "probabilities": p})
        append_line(out / "predictions.csv", f"{path.stem},{p[0]:.6f},{p[1]:.6f}")
    return len(paths) / (time.perf_counter() - t)


def score_rate(model_dir: Path, data: Path, out: Path, *, cam: bool, batch_size: int, workers: int) -> float:
    """End-to-end rate: discovery, model load, scoring loop and merge all included."""
    from medtl.infer.score import score

    s = score(model_dir, [data], out, batch_size=batch_size, workers=workers, quiet=True, cam=cam)
    assert s.failed == 0
    LOOP_RATES[cam] = s.total / s.loop_s
    return s.total / s.wall_s


LOOP_RATES: dict[bool, float] = {}  # scoring loop only (no discovery, model load, merge)


MEMORY_SNIPPET = """
import resource, sys
sys.path.insert(0, {repo!r})
from medtl.infer.score import score
s = score({model!r}, [{data!r}], {out!r}, batch_size=16, workers={workers}, quiet=True, cam=True)
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(me, kids, s.total)
"""


def peak_rss_mb(model: Path, data: Path, out: Path, workers: int) -> dict:
    code = MEMORY_SNIPPET.format(repo=str(REPO), model=str(model), data=str(data), out=str(out), workers=workers)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    me, kids, total = (int(v) for v in res.stdout.split()[-3:])
    return {"cases": total, "main_peak_rss_mb": me / 1024, "worker_peak_rss_mb": kids / 1024}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=500)
    ap.add_argument("--encoder", default="efficientnet-lite0")
    ap.add_argument("--image-size", type=int, default=64, help="model input (px)")
    ap.add_argument("--png-size", type=int, default=128, help="synthetic PNG size (px)")
    ap.add_argument("--naive-cases", type=int, default=100, help="the naive loop's rate is measured on "
                    "the first N cases (it is the slow one)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-cases", type=int, nargs="*", default=[100, 1000])
    ap.add_argument("--repeat", type=int, default=1, help="run the throughput phases N times")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "bench_score.json"))
    args = ap.parse_args(argv)
    import torch

    with tempfile.TemporaryDirectory(prefix="medtl_bench_score_") as tmp:
        tmp = Path(tmp)
        write_cases(tmp / "data", args.cases, args.png_size)
        model = make_model(tmp / "model", args.encoder, args.image_size)
        res = {"cases": args.cases, "encoder": args.encoder, "image_size": args.image_size,
               "png_size": args.png_size, "batch_size": args.batch_size, "workers": args.workers,
               "torch_threads": torch.get_num_threads(), "naive_cases": min(args.naive_cases, args.cases),
               "runs": []}
        for r in range(args.repeat):
            run = {"load_avg_start": list(os.getloadavg())}
            for cam in (False, True):
                tag = "_with_cam" if cam else ""
                data, out = tmp / "data", tmp / f"r{r}{tag}"
                for key, phase in ((f"raw_forward{tag}_per_s", raw_rate), (f"naive{tag}_per_s", naive_rate),
                                   (f"score{tag}_per_s", score_rate)):
                    if phase is raw_rate:
                        run[key] = raw_rate(model, data, args.batch_size, cam=cam)
                    elif phase is naive_rate:
                        run[key] = naive_rate(model, data, out / "naive", args.naive_cases, cam=cam)
                    else:
                        run[key] = score_rate(model, data, out / "score", cam=cam, batch_size=args.batch_size,
                                              workers=args.workers)
                    print(f"run {r}: {key}: {run[key]:.2f} cases/s", flush=True)
                run[f"score_loop{tag}_per_s"] = LOOP_RATES[cam]
                run[f"speedup_vs_naive{tag}"] = run[f"score{tag}_per_s"] / run[f"naive{tag}_per_s"]
                run[f"fraction_of_raw{tag}"] = run[f"score{tag}_per_s"] / run[f"raw_forward{tag}_per_s"]
                run[f"loop_fraction_of_raw{tag}"] = run[f"score_loop{tag}_per_s"] / run[f"raw_forward{tag}_per_s"]
            run["load_avg_end"] = list(os.getloadavg())
            res["runs"].append(run)
            print(json.dumps(run, indent=2), flush=True)
        res["summary"] = summarize_runs(res["runs"])
        print(json.dumps(res["summary"], indent=2), flush=True)
        tiny = make_model(tmp / "tiny", "tiny", 32)
        res["memory"] = []
        for n in args.memory_cases:
            write_cases(tmp / f"mem{n}", n, 64)
            res["memory"].append(peak_rss_mb(tiny, tmp / f"mem{n}", tmp / f"mem_out{n}", args.workers))
            print(json.dumps(res["memory"][-1]), flush=True)
    res["machine"] = {"cpu": _cpu(), "cores": _cores(), "python": platform.python_version(),
                      "torch": torch.__version__, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    return 0


def summarize_runs(runs: list[dict]) -> dict:
    """Median, min and max over the repeats of every rate and ratio: on a shared VM the absolute
    rates drift between repeats (e.g. a raw forward rate of 130 to 206 cases/s at 96 px within
    minutes), so one repeat is not a measurement."""
    keys = [k for k, v in runs[0].items() if isinstance(v, float)]
    return {k: {"median": float(np.median([r[k] for r in runs])), "min": min(r[k] for r in runs),
                "max": max(r[k] for r in runs)} for k in keys}


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
