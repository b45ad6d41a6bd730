"""``medtl review``: start the Streamlit review app on a scoring output folder."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "apps" / "review_app.py"


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("review", help="review scored cases in the browser (Streamlit app)",
                       description="Start the clinician review app on a `medtl score` output folder. "
                                   "Needs no model and no GPU.")
    p.add_argument("--scores", required=True, type=Path, metavar="OUT_DIR", help="scoring output folder")
    p.add_argument("--db", type=Path, metavar="REVIEW.sqlite", help="decisions database (default OUT_DIR/review.sqlite)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default localhost only)")
    return p


def streamlit_command(scores: Path, db: Path, *, port: int, host: str) -> list[str]:
    """The ``streamlit run`` command line: headless, no usage statistics, bound to ``host``."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.address", host,
        "--server.port", str(port),
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "minimal",
        "--", "--scores", str(scores), "--db", str(db),
    ]


def run(args: argparse.Namespace) -> int:
    from medtl.errors import MedtlError
    from medtl.review.scores import load_scores
    from medtl.review.store import DecisionStore

    scores = args.scores.resolve()
    db = (args.db or scores / "review.sqlite").resolve()
    try:
        run_ = load_scores(scores)
        DecisionStore(db).close()  # create it (WAL, schema) now so a bad path fails here, not in the browser
    except MedtlError as exc:
        print(f"medtl review: error: {exc}", file=sys.stderr)
        return 2
    if not 0 < args.port < 65536:
        print(f"medtl review: error: --port must be 1..65535, got {args.port}", file=sys.stderr)
        return 2
    print(f"medtl review: {len(run_.cases)} cases from {scores}; decisions in {db}; "
          f"open http://{args.host}:{args.port}", flush=True)
    cmd = streamlit_command(scores, db, port=args.port, host=args.host)
    if os.name == "posix":  # become the server: signals (Ctrl-C, SIGTERM) reach it directly
        os.execv(cmd[0], cmd)
    return subprocess.call(cmd)
