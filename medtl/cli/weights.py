"""``medtl weights``: which encoders exist, which pretrained files they use and whether those are here.

    medtl weights [PATTERN] [--weights-dir DIR] [--json]      list encoders, sources and file status
    medtl weights --check NAME --source SOURCE                 exit 0 if the file is found, else 1
    medtl weights --download NAME --source SOURCE [--to DIR]  fetch the file (needs internet) into
                                                               DIR (default: the torch hub cache)

Files are searched in --weights-dir, $MEDTL_WEIGHTS_DIR, then the torch hub cache. Listing and
--check never download; training with --weights imagenet|medicalnet downloads a missing file that has
a published hash (see docs/models.md), unless MEDTL_OFFLINE=1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser("weights", help="list encoders and their pretrained weight files",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pattern", nargs="?", default=None, help="encoder name pattern, e.g. 'resnet*'")
    parser.add_argument("--weights-dir", default=None, help="extra folder searched first")
    parser.add_argument("--json", action="store_true", help="print one JSON list")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", metavar="NAME", help="check that NAME's --source file is present")
    action.add_argument("--download", metavar="NAME", help="download NAME's --source file")
    parser.add_argument("--source", default="imagenet", help="imagenet | medicalnet (default imagenet)")
    parser.add_argument("--to", default=None, help="download folder (default: the torch hub cache)")
    return parser


def _spec(name: str, source: str):
    from medtl.errors import ConfigError
    from medtl.models.registry import get_encoder_entry

    entry = get_encoder_entry(name)
    if source not in entry.specs:
        raise ConfigError(f"encoder {name!r} has no {source!r} weights; sources: {', '.join(entry.sources)}")
    return entry.specs[source]


def listing(pattern: str | None, weights_dir: str | None) -> list[dict]:
    from medtl.errors import WeightsError
    from medtl.models.pretrained import locate
    from medtl.models.registry import get_encoder_entry, list_encoders

    rows = []
    for name in list_encoders(pattern):
        entry = get_encoder_entry(name)
        sources = {"none": {"status": "random init"}}
        for source, spec in entry.specs.items():
            item = {"files": list(spec.file_names), "url": spec.url, "licence": spec.licence,
                    "spatial_dims": [3] if spec.spatial_dims == 3 else [2, 3]}
            try:
                item.update(status="found", path=str(locate(spec, weights_dir=weights_dir)))
            except WeightsError:
                item.update(status="missing", path=None)
            sources[source] = item
        rows.append({"encoder": name, "spatial_dims": list(entry.spatial_dims),
                     "description": entry.description, "sources": sources})
    return rows


def _print_table(rows: list[dict]) -> None:
    for row in rows:
        dims = "/".join(f"{d}D" for d in row["spatial_dims"])
        print(f"{row['encoder']:<20} {dims:<6} {row['description']}")
        for source, item in row["sources"].items():
            if source == "none":
                continue
            where = item["path"] if item["status"] == "found" else f"get {item['files'][0]} from {item['url']}"
            print(f"    {source:<11} {item['status']:<8} {where}")


def download(spec, dest: Path) -> Path:
    """Fetch ``spec``'s file into ``dest`` (medtl.models.download): checked against its published
    sha256 when one is known, and always checked to load without executing code."""
    from medtl.errors import WeightsError
    from medtl.models.download import Published, download, published

    pub = published(spec)
    if pub is not None:
        return download(pub, dest)
    if not spec.downloadable:
        raise WeightsError(f"not a direct download; get it from {spec.url}", path=spec.file_names[0],
                           code="weights_missing")
    print(f"note: no published sha256 is recorded for {spec.file_names[0]}; it is only checked to load safely",
          file=sys.stderr)
    return download(Published(spec.file_names[0], spec.url, ""), dest, check_hash=False)


def run(args: argparse.Namespace) -> int:
    from medtl.models.pretrained import locate
    from medtl.models.weights import hub_checkpoint_dir

    if args.check:
        path = locate(_spec(args.check, args.source), weights_dir=args.weights_dir,
                      what=f"{args.check} {args.source} weights")
        print(path)
        return 0
    if args.download:
        dest = Path(args.to).expanduser() if args.to else hub_checkpoint_dir()
        print(download(_spec(args.download, args.source), dest))
        return 0
    rows = listing(args.pattern, args.weights_dir)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        _print_table(rows)
    return 0
