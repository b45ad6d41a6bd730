"""Optional JSON sidecar next to a dataset file (``data.csv`` -> ``data.json``, ``x.npz`` -> ``x.json``)
giving class order (``label_names``) and ``modality``."""

from __future__ import annotations

import json
from pathlib import Path

from medtl.errors import DataError


def read_sidecar(path: Path) -> dict:
    """The sidecar's JSON object, ``{}`` when there is none; a broken one is a DataError naming it."""
    side = Path(path).with_suffix(".json")
    if not side.is_file():
        return {}
    return read_json_object(side, "sidecar ")


def read_json_object(path: Path, what: str = "") -> dict:
    """A JSON file that must hold an object (a sidecar, an MSD dataset.json); DataError naming it."""
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{what}is not valid JSON ({exc})", path=path) from exc
    if not isinstance(info, dict):
        raise DataError(f"{what}must hold a JSON object", path=path)
    return info
