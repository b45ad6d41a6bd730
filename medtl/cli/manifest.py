"""``medtl manifest PATH --out m.csv``: write the manifest a dataset folder's layout stands for.

PATH is an MSD/nnU-Net folder, class folders, images with ``<stem>_mask`` siblings,
``images/`` + ``masks/`` folders, or a labels CSV keyed by SeriesInstanceUID, StudyInstanceUID
or AccessionNumber, joined to the DICOM series under its folder (docs/data.md). The CSV (and a
sidecar ``<stem>.json`` with label names and modality when the layout gives them) can be edited
and passed to ``medtl train --data``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("manifest", help="write the manifest CSV inferred from a dataset folder's layout",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", type=Path, help="dataset folder, or a labels CSV keyed by DICOM identifiers")
    p.add_argument("--out", required=True, type=Path, metavar="MANIFEST.csv", help="CSV to write (outside PATH)")
    p.add_argument("--task", choices=("classification", "segmentation"),
                   help="read the folder for this task (default: the layout's own; needed when it fits both)")
    p.add_argument("--force", action="store_true", help="overwrite an existing manifest")
    return p


def run(args: argparse.Namespace) -> int:
    from medtl.data.layouts import infer_layout
    from medtl.data.layouts.write import write_manifest

    layout = infer_layout(args.path, task=args.task)
    print(layout.summary)
    for line in layout.left_out:
        print(f"  left out: {line}", file=sys.stderr)
    written = write_manifest(layout, args.out, force=args.force)
    print(f"wrote {len(layout.rows)} rows ({layout.task}) to {', '.join(map(str, written))}")
    return 0
