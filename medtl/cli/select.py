"""``medtl select``: pick the next cases to review from a scoring output (active learning)."""

from __future__ import annotations

import argparse


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "select",
        help="pick the K cases to review next (most uncertain, flagged first, or random)",
        description="Pick the next --budget cases to review from a `medtl score` output folder: the most "
        "uncertain first (ties: lowest confidence, then case id), segmentation cases with quality flags "
        "first (flags-first; then by uncertainty) or a seeded random sample. Failed "
        "cases and, with --db, cases that already have a review decision are skipped.",
    )
    p.add_argument("--scores", required=True, metavar="OUT_DIR", help="scoring output folder (predictions.csv)")
    p.add_argument("--budget", required=True, type=int, metavar="K", help="number of cases to pick")
    p.add_argument("--strategy", choices=("uncertainty", "flags-first", "random"), default="uncertainty")
    p.add_argument("--seed", type=int, default=0, help="seed for --strategy random (default 0)")
    p.add_argument("--db", metavar="REVIEW.sqlite", help="review database: skip cases already reviewed")
    p.add_argument("--out", metavar="FILE.csv", help="also write the selection as CSV (atomic)")
    return p


def format_table(rows: list[dict]) -> str:
    header = ("rank", "case_id", "predicted_label", "uncertainty", "flags", "source")
    cells = [header] + [
        (str(r["rank"]), r["case_id"], str(r["predicted_label"] or ""),
         "" if r["uncertainty"] is None else f"{r['uncertainty']:.4f}", str(r.get("flags") or ""),
         str(r["source"] or ""))
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(len(header))).rstrip() for c in cells)


def run(args: argparse.Namespace) -> int:
    import sys

    from medtl.continual.select import select_cases

    rows = select_cases(args.scores, args.budget, strategy=args.strategy, seed=args.seed,
                        exclude_reviewed_db=args.db, out=args.out)
    print(format_table(rows))
    if len(rows) < args.budget:
        print(f"medtl select: only {len(rows)} eligible case(s) for a budget of {args.budget}", file=sys.stderr)
    if args.out:
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
