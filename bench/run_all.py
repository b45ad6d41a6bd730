"""Run every benchmark (in priority order), then rebuild docs/benchmarks/README.md.

    OMP_NUM_THREADS=2 .venv/bin/python bench/run_all.py                 # everything, defaults
    .venv/bin/python bench/run_all.py --only breastmnist speed          # a subset
    .venv/bin/python bench/run_all.py --readme-only                     # just rebuild the README

Each benchmark runs as its own process (``python bench/<script>.py ...``), so one failing does
not stop the others; the exit status is 1 when any failed. Extra arguments after ``--`` go to
every script (e.g. ``-- --device cuda`` or ``-- --seeds 0``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import DOCS  # noqa: E402
from readme import BENCHMARKS, write_readme  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=[b.key for b in BENCHMARKS], help="run only these")
    p.add_argument("--docs", type=Path, default=DOCS)
    p.add_argument("--work", type=Path, default=Path("/tmp/medtl-bench"))
    p.add_argument("--readme-only", action="store_true")
    p.add_argument("extra", nargs=argparse.REMAINDER, help="-- then arguments for every script")
    args = p.parse_args(argv)
    extra = [a for a in args.extra if a != "--"]
    failed = []
    for bench in BENCHMARKS if not args.readme_only else []:
        if args.only and bench.key not in args.only:
            continue
        bargs = [a.replace("{work}", str(args.work)) for a in bench.args]
        if "--pretrained" in bargs and not Path(bargs[bargs.index("--pretrained") + 1]).is_dir():
            i = bargs.index("--pretrained")  # no hippocampus run to reuse: the script trains its own
            del bargs[i:i + 2]
        cmd = [sys.executable, str(HERE / bench.script), *bargs, "--docs", str(args.docs),
               "--work", str(args.work / bench.key), *extra]
        print(f"== {bench.key}: {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd)
        print(f"== {bench.key}: exit {rc} after {time.perf_counter() - t0:.0f} s", flush=True)
        if rc:
            failed.append(bench.key)
    write_readme(args.docs)
    if failed:
        print(f"failed: {' '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
