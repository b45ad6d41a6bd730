"""``medtl inspect PATH [--json]``: list every scan under PATH with its geometry or its error.

For a folder the table ends with the dataset layout ``medtl train --data`` would read there.

Exit 0 when every scan was read, 1 when any failed, 2 when PATH does not exist.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser("inspect", help="list the scans under a file or folder and check they read",
                            description=__doc__)
    parser.add_argument("path", help="a scan file, a DICOM series folder, any folder (searched recursively) or a "
                                     "DICOMweb query dicomweb[s]://HOST:PORT/PATH?FILTERS (see docs/scoring.md)")
    parser.add_argument("--json", action="store_true", help="print one JSON list, one object per scan")
    return parser


def run(args: argparse.Namespace) -> int:
    from medtl.data.inspect import format_table, inspect_dicomweb, inspect_path, layout_line
    from medtl.pacs import is_dicomweb_url

    path = Path(args.path)
    if is_dicomweb_url(args.path):
        records = inspect_dicomweb(args.path, quiet=args.json)
    elif not path.exists():
        print(f"medtl inspect: error: {path}: no such file or folder", file=sys.stderr)
        return 2
    else:
        records = inspect_path(path)
    if args.json:
        print(json.dumps(records, indent=2))
    else:
        print(format_table(records))
        layout = layout_line(path)
        if layout:
            print(layout)
    return 1 if any(r["error"] is not None for r in records) else 0
