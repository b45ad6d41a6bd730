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
    try:
        info = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"sidecar is not valid JSON ({exc})", path=side) from exc
    if not isinstance(info, dict):
        raise DataError("sidecar must hold a JSON object", path=side)
    return info
