"""Time reading one real DICOM series with medtl vs MONAI ``LoadImage(reader="PydicomReader")``.

    .venv/bin/python bench/bench_dicom_read.py [--series FOLDER] [--repeats 5] [--out bench/results/]

Both readers get the same folder; each is warmed up once, then the two are timed alternately
``--repeats`` times (median and min reported; alternating keeps machine noise fair). Geometry differences (shape, spacing, affine, voxel values) between the two
are reported too, so a speed-up never hides a wrong volume. Results are printed and written as
JSON to ``--out`` (a folder, or a ``.json`` file path).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SERIES = REPO / ".." / "shared" / "data" / "dicom_brain_mr" / "Study1" / "12-T1post-05670"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _interleaved(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Warm each reader once, then alternate them every repeat so machine noise hits both alike."""
    results = {name: fn() for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return times, results


def run(series: Path, repeats: int) -> dict:
    from monai.transforms import LoadImage

    from medtl.data import read_scan

    loader = LoadImage(reader="PydicomReader", image_only=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        times, results = _interleaved({"medtl": lambda: read_scan(series), "monai": lambda: loader(str(series))},
                                      repeats)
    scan, image = results["medtl"], results["monai"]
    medtl_times, monai_times = times["medtl"], times["monai"]
    monai_array = np.asarray(image)
    monai_affine = np.asarray(image.affine, dtype=np.float64)
    monai_spacing = np.linalg.norm(monai_affine[:3, :3], axis=0)
    same_shape = tuple(monai_array.shape) == scan.spatial_shape
    medtl_s, monai_s = statistics.median(medtl_times), statistics.median(monai_times)
    return {
        "series": str(series.resolve()),
        "n_files": len(scan.files),
        "repeats": repeats,
        "medtl_s": {"median": medtl_s, "min": min(medtl_times), "all": medtl_times},
        "monai_pydicomreader_s": {"median": monai_s, "min": min(monai_times), "all": monai_times},
        "speed_ratio_monai_over_medtl": monai_s / medtl_s,
        "geometry": {
            "medtl_shape": list(scan.spatial_shape),
            "monai_shape": list(monai_array.shape),
            "same_shape": same_shape,
            "medtl_spacing": [float(s) for s in scan.spacing],
            "monai_spacing": [float(s) for s in monai_spacing],
            "spacing_max_abs_diff": float(np.max(np.abs(np.asarray(scan.spacing) - monai_spacing))),
            "affine_max_abs_diff": float(np.max(np.abs(scan.affine - monai_affine))),
            "voxel_max_abs_diff": float(np.max(np.abs(scan.array[0] - monai_array))) if same_shape else None,
        },
        "machine": {"cpu": cpu_model(), "python": sys.version.split()[0], "platform": platform.platform()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=Path, default=DEFAULT_SERIES)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    if not args.series.is_dir():
        print(f"bench_dicom_read: series folder not found: {args.series}", file=sys.stderr)
        return 2
    from medtl.fileio import atomic_write_json

    result = run(args.series, args.repeats)
    out = args.out if args.out.suffix == ".json" else args.out / "bench_dicom_read.json"
    atomic_write_json(out, result)
    g = result["geometry"]
    print(f"series {result['series']} ({result['n_files']} files), {args.repeats} repeats, {result['machine']['cpu']}")
    for label, key in (("medtl", "medtl_s"), ("MONAI PydicomReader", "monai_pydicomreader_s")):
        print(f"{label:20s} median {result[key]['median'] * 1000:7.1f} ms   min {result[key]['min'] * 1000:7.1f} ms")
    print(f"speed ratio (MONAI / medtl): {result['speed_ratio_monai_over_medtl']:.2f}x")
    print(f"shape medtl {g['medtl_shape']} vs MONAI {g['monai_shape']}; spacing max diff {g['spacing_max_abs_diff']:.2e} mm;"
          f" affine max diff {g['affine_max_abs_diff']:.2e}; voxel max diff {g['voxel_max_abs_diff']}")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
