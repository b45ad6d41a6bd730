"""``medtl reviews export|audit``: review decisions out of the database as CSV."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("reviews", help="export review decisions (training manifest, audit log)",
                       description="Export decisions made in `medtl review`.")
    actions = p.add_subparsers(dest="reviews_action", metavar="ACTION", required=True,
                               parser_class=type(p))
    ex = actions.add_parser("export", help="reviewed cases as a training manifest for `medtl train`")
    ex.add_argument("--db", required=True, type=Path, metavar="REVIEW.sqlite")
    ex.add_argument("--scores", required=True, type=Path, metavar="OUT_DIR", help="the scoring output folder reviewed")
    ex.add_argument("--out", required=True, type=Path, metavar="manifest.csv")
    au = actions.add_parser("audit", help="every decision (who, when, what, before/after) as CSV")
    au.add_argument("--db", required=True, type=Path, metavar="REVIEW.sqlite")
    au.add_argument("--out", required=True, type=Path, metavar="audit.csv")
    au.add_argument("--model-id", help="only decisions about this model's predictions")
    return p


def run(args: argparse.Namespace) -> int:
    from medtl.review.export import export_audit, export_manifest

    if args.reviews_action == "export":
        n = export_manifest(args.db, args.scores, args.out)
        print(f"wrote {n} reviewed cases to {args.out}")
    else:
        n = export_audit(args.db, args.out, model_id=args.model_id)
        print(f"wrote {n} decisions to {args.out}")
    return 0
