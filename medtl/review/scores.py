"""Read a scoring output folder (``medtl score``; layout in ARCHITECTURE.md "medtl.infer").

The review app and the export read only this: ``run_manifest.json``, ``predictions.csv`` and the
per-case review artefacts ``cases/<case_id>/case.json`` + ``preview.npz``. No model, no torch.
"""

from __future__ import annotations

import csv
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medtl.errors import MedtlError
from medtl.infer.outputs import cam_from_stored

OK_STATUSES = ("ok", "")


class ScoresError(MedtlError):
    """The scoring output folder is missing, incomplete or unreadable."""

    code = "bad_scores"


@dataclass(frozen=True)
class CaseInfo:
    """One scored case as the worklist shows it (non-identifying fields only)."""

    case_id: str
    source: str
    task: str
    predicted_label: str | None = None
    confidence: float | None = None
    uncertainty: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    volumes_ml: dict[str, float] = field(default_factory=dict)  # 3D segmentation, per label
    areas_mm2: dict[str, float] = field(default_factory=dict)  # 2D segmentation, per label
    modality: str | None = None
    shape: tuple[int, ...] = ()
    spacing: tuple[float, ...] = ()
    flags: tuple[tuple[str, str], ...] = ()  # segmentation quality flags: (code, reason)
    uncertain_slices: dict[str, int] = field(default_factory=dict)  # plane -> 0-based preview slice


@dataclass(frozen=True)
class Preview:
    image: np.ndarray  # spatial only; RGB is channel-last
    spacing: tuple[float, ...]
    affine: np.ndarray
    mask: np.ndarray | None = None
    cam: np.ndarray | None = None
    entropy: np.ndarray | None = None  # segmentation: voxel entropy 0..1 (model uncertainty)

    @property
    def rgb(self) -> bool:
        return self.image.ndim == len(self.spacing) + 1 and self.image.shape[-1] in (3, 4)


@dataclass(frozen=True)
class ScoreRun:
    root: Path
    model_id: str
    task: str
    label_names: list[str]
    inputs: list[str]
    cases: dict[str, CaseInfo]
    manifest: dict
    failed: int = 0

    def case_dir(self, case_id: str) -> Path:
        if case_id not in self.cases:
            raise ScoresError(f"unknown case {case_id!r}", path=self.root)
        return self.root / "cases" / case_id


def _float(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ScoresError("missing file: not a medtl scoring output folder", path=path) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScoresError(f"unreadable JSON: {exc}", path=path) from exc
    if not isinstance(data, dict):
        raise ScoresError("expected a JSON object", path=path)
    return data


def _measures(row: dict, case_json: dict, column: str, json_key: str) -> dict[str, float]:
    """Per-label ``<column>_<label>`` CSV values (volume_ml, area_mm2), else case.json's dict."""
    found = {k[len(column) + 1:]: _float(v) for k, v in row.items() if k.startswith(column + "_")}
    found = found if any(v is not None for v in found.values()) else dict(case_json.get(json_key) or {})
    return {str(k): float(v) for k, v in found.items() if _float(v) is not None}


def _flags(row: dict, case_json: dict) -> tuple[tuple[str, str], ...]:
    """case.json's flags with their reasons, else the codes of predictions.csv's ``flags`` column
    (none in a scoring folder written before medtl had them)."""
    listed = case_json.get("flags")
    if isinstance(listed, list):
        return tuple((str(f.get("code")), str(f.get("reason") or "")) for f in listed if isinstance(f, dict))
    return tuple((code, "") for code in str(row.get("flags") or "").split(";") if code)


def _slices(case_json: dict) -> dict[str, int]:
    found = case_json.get("uncertain_slices")
    if not isinstance(found, dict):
        return {}
    return {str(k): int(v) for k, v in found.items() if isinstance(v, int) and v >= 0}


def _case(row: dict, task: str, case_json: dict) -> CaseInfo:
    probs = {k[len("prob_"):]: _float(v) for k, v in row.items() if k.startswith("prob_")}
    probs = {k: v for k, v in probs.items() if v is not None} or {
        str(k): float(v) for k, v in (case_json.get("probabilities") or {}).items()
    }
    vols, areas = (_measures(row, case_json, "volume_ml", "volumes_ml"),
                   _measures(row, case_json, "area_mm2", "areas_mm2"))
    pick = lambda key: row.get(key) if row.get(key) not in (None, "") else case_json.get(key)  # noqa: E731
    label = pick("predicted_label")
    return CaseInfo(
        case_id=row["case_id"],
        source=str(row.get("source") or case_json.get("source") or ""),
        task=task,
        predicted_label=None if label in (None, "") else str(label),
        confidence=_float(pick("confidence")),
        uncertainty=_float(pick("uncertainty")),
        probabilities=probs,
        volumes_ml=vols,
        areas_mm2=areas,
        modality=case_json.get("modality") or None,
        shape=tuple(int(s) for s in case_json.get("shape") or ()),
        spacing=tuple(float(s) for s in case_json.get("spacing") or ()),
        flags=_flags(row, case_json),
        uncertain_slices=_slices(case_json),
    )


def load_scores(root: str | Path) -> ScoreRun:
    """Validate and read a scoring output folder. Raises :class:`ScoresError` naming the file."""
    root = Path(root)
    if not root.is_dir():
        raise ScoresError("scoring output folder not found", path=root)
    manifest = _read_json(root / "run_manifest.json")
    task = manifest.get("task")
    if task not in ("classification", "segmentation"):
        raise ScoresError(f"run_manifest.json task must be classification or segmentation, got {task!r}",
                          path=root / "run_manifest.json")
    pred_path = root / "predictions.csv"
    try:
        with open(pred_path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError as exc:
        raise ScoresError("missing predictions.csv: not a medtl scoring output folder", path=pred_path) from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ScoresError(f"unreadable CSV: {exc}", path=pred_path) from exc
    if rows and "case_id" not in rows[0]:
        raise ScoresError("predictions.csv has no case_id column", path=pred_path)
    cases, failed = {}, 0
    for row in rows:
        if (row.get("status") or "").strip().lower() not in OK_STATUSES:
            failed += 1
            continue
        case_json_path = root / "cases" / row["case_id"] / "case.json"
        case_json = _read_json(case_json_path) if case_json_path.is_file() else {}
        cases[row["case_id"]] = _case(row, task, case_json)
    return ScoreRun(
        root=root,
        model_id=str(manifest.get("model_id") or ""),
        task=task,
        label_names=[str(n) for n in manifest.get("label_names") or []],
        inputs=[str(p) for p in manifest.get("inputs") or []],
        cases=cases,
        manifest=manifest,
        failed=failed,
    )


def load_preview(run: ScoreRun, case_id: str) -> Preview:
    """Read ``cases/<case_id>/preview.npz`` (never with pickle)."""
    path = run.case_dir(case_id) / "preview.npz"
    try:
        with np.load(path, allow_pickle=False) as npz:
            image = np.asarray(npz["image"], dtype=np.float32)
            spacing = tuple(float(s) for s in npz["spacing"]) if "spacing" in npz else ()
            spatial = len(spacing) or image.ndim - int(image.ndim == 3 and image.shape[-1] in (3, 4))
            spacing = spacing or (1.0,) * spatial
            affine = np.asarray(npz["affine"], dtype=np.float64) if "affine" in npz else np.eye(4)
            mask = np.asarray(npz["mask"]) if "mask" in npz else None
            cam = cam_from_stored(npz["cam"]) if "cam" in npz else None
            entropy = cam_from_stored(npz["entropy"]) if "entropy" in npz else None
    except FileNotFoundError as exc:
        raise ScoresError("no preview for this case", path=path) from exc
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ScoresError(f"unreadable preview: {exc}", path=path) from exc
    if image.ndim not in (spatial, spatial + 1) or spatial not in (2, 3):
        raise ScoresError(f"spacing {spacing} does not match image shape {image.shape}", path=path)
    for name, arr in (("mask", mask), ("cam", cam), ("entropy", entropy)):
        if arr is not None and arr.shape != image.shape[:spatial]:
            raise ScoresError(f"{name} shape {arr.shape} differs from image shape {image.shape}", path=path)
    return Preview(image, spacing, affine, mask, cam, entropy)
