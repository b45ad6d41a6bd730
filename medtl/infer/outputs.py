"""What a scored case turns into: a predictions.csv row, a NIfTI mask, review artefacts.

All writers are atomic (medtl.fileio). Numbers in the CSV are rounded to 6 decimals so a resumed
run and an uninterrupted run give byte-identical rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import zipfile
from pathlib import Path

import numpy as np

from medtl.fileio import atomic_write, atomic_write_bytes, atomic_write_json

DIGITS = 6
PREVIEW_COMPRESSLEVEL = 1


def normalised_entropy(p: np.ndarray, *, multilabel: bool = False) -> float:
    """Predictive entropy scaled to 0..1 (0 = certain, 1 = uniform)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1.0)
    if multilabel:  # mean binary entropy over labels
        q = np.clip(1.0 - p, 1e-12, 1.0)
        return float(np.mean(-(p * np.log(p) + q * np.log(q))) / math.log(2))
    if p.size < 2:
        return 0.0
    return float(-(p * np.log(p)).sum() / math.log(p.size))


def classification_row(probs: np.ndarray, label_names: list[str], *, threshold: float, multilabel: bool,
                       disagreement: float | None = None) -> dict:
    """prob_<label>..., predicted_label, confidence, uncertainty (and tta_disagreement)."""
    probs = np.asarray(probs, dtype=np.float64)
    row = {f"prob_{name}": round(float(p), DIGITS) for name, p in zip(label_names, probs)}
    if multilabel:
        chosen = [n for n, p in zip(label_names, probs) if p >= threshold]
        row["predicted_label"] = ";".join(chosen)
        row["confidence"] = round(float(np.mean(np.where(probs >= threshold, probs, 1 - probs))), DIGITS)
    else:
        if len(label_names) == 2:  # binary: the model card's operating threshold
            index = 1 if probs[1] >= threshold else 0
        else:
            index = int(np.argmax(probs))
        row["predicted_label"] = label_names[index]
        row["confidence"] = round(float(probs[index]), DIGITS)
    row["uncertainty"] = round(normalised_entropy(probs, multilabel=multilabel), DIGITS)
    if disagreement is not None:
        row["tta_disagreement"] = round(float(disagreement), DIGITS)
    return row


def measure_labels(mask: np.ndarray, spacing: tuple[float, ...], label_names: list[str]) -> dict:
    """Per-label volume in mL (3D) or area in mm^2 (2D), background excluded."""
    unit = float(np.prod(spacing))
    counts = np.bincount(mask.ravel().astype(np.int64), minlength=len(label_names))
    key = "volume_ml" if mask.ndim == 3 else "area_mm2"
    scale = unit / 1000.0 if mask.ndim == 3 else unit
    return {f"{key}_{name}": round(float(counts[i]) * scale, DIGITS)
            for i, name in enumerate(label_names) if i > 0}


def prediction_header(task: str, label_names: list[str], *, spatial_dims: int, tta: bool,
                      multilabel: bool = False) -> list[str]:
    head = ["case_id", "source"]
    if task == "classification":
        head += [f"prob_{n}" for n in label_names] + ["predicted_label", "confidence", "uncertainty"]
        if tta:
            head.append("tta_disagreement")
    else:
        key = "volume_ml" if spatial_dims == 3 else "area_mm2"
        head += [f"{key}_{n}" for n in label_names[1:]] + ["confidence", "uncertainty", "flags"]
        if tta:
            head.append("tta_disagreement")
    return head + ["status"]


def write_predictions_csv(path: str | Path, header: list[str], rows: list[dict]) -> None:
    with atomic_write(path, "w") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in header})


def write_mask_nifti(path: str | Path, mask: np.ndarray, affine: np.ndarray) -> None:
    """uint8 label map with exactly the input's voxel grid (shape and affine)."""
    import nibabel as nib

    img = nib.Nifti1Image(np.asarray(mask, dtype=np.uint8), np.asarray(affine, dtype=np.float64))
    img.set_qform(img.affine, code=1)
    img.set_sform(img.affine, code=1)
    data = img.to_bytes()
    atomic_write_bytes(path, gzip.compress(data, compresslevel=6, mtime=0) if str(path).endswith(".gz") else data)


def write_preview(path: str | Path, *, image: np.ndarray, spacing, affine, mask=None, cam=None,
                  entropy=None, durable: bool = True) -> None:
    """The review app's ``preview.npz``: the image in the smallest dtype that holds it exactly
    (see :func:`compact_image`), the mask as uint8, the Grad-CAM and the segmentation entropy map
    as uint8 (see :func:`cam_to_uint8`). Readers cast the image to float32 and the maps with
    :func:`cam_from_stored`."""
    arrays = {"image": compact_image(image), "spacing": np.asarray(spacing, np.float64),
              "affine": np.asarray(affine, np.float64)}
    if mask is not None:
        arrays["mask"] = np.asarray(mask, np.uint8)
    if cam is not None:
        arrays["cam"] = cam_to_uint8(cam)
    if entropy is not None:
        arrays["entropy"] = cam_to_uint8(entropy)
    atomic_write_bytes(path, npz_bytes(arrays), durable=durable)


def compact_image(image: np.ndarray) -> np.ndarray:
    """``image`` as uint8 or int16 when every value is an integer in that range (an 8-bit PNG or
    ultrasound frame, CT in HU, MR stored as integers, not resampled), else float32: lossless
    either way, 2-4x fewer bytes to deflate and store. Deflating the float32 preview was the
    largest per-case cost of scoring a small image (bench/bench_score.py, docs/scoring.md)."""
    if np.asarray(image).dtype in (np.uint8, np.int16):  # already compact (the loader compacts it)
        return np.asarray(image)
    a = np.asarray(image, np.float32)
    if a.size == 0 or not np.isfinite(a).all() or not np.array_equal(np.rint(a), a):
        return a
    lo, hi = float(a.min()), float(a.max())
    for dtype in (np.uint8, np.int16):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return a.astype(dtype)
    return a


def cam_to_uint8(cam: np.ndarray) -> np.ndarray:
    """A Grad-CAM in [0, 1] stored as round(255 * cam): a display heat map needs no more than
    1/255 steps (a colour map has 256 entries), and it is 4x smaller than float32."""
    return np.rint(np.clip(np.asarray(cam, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def cam_from_stored(cam: np.ndarray) -> np.ndarray:
    """The CAM read from a preview as float32 in [0, 1] (uint8 as written by :func:`cam_to_uint8`;
    float32 as written by medtl before 2026-11-28)."""
    cam = np.asarray(cam)
    return cam.astype(np.float32) / 255.0 if cam.dtype == np.uint8 else cam.astype(np.float32)


def npz_bytes(arrays: dict[str, np.ndarray], *, compresslevel: int = PREVIEW_COMPRESSLEVEL) -> bytes:
    """What ``np.savez_compressed`` writes (a zip of ``.npy`` members, deflated; same member names
    and fixed timestamps, so the bytes are reproducible), at zlib level 1 instead of numpy's fixed
    level 6: numpy offers no level, and level 6 was the single largest cost of scoring a small
    image (measured 16-27 ms vs 4 ms per 2D preview with a CAM, for files 4-20 % larger)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
        for name, value in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(value), allow_pickle=False)
    return buf.getvalue()


def write_case_json(path: str | Path, info: dict, *, durable: bool = True) -> None:
    atomic_write_json(path, info, durable=durable)
