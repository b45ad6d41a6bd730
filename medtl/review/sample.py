"""Write a small, realistic scoring output folder (the ARCHITECTURE.md "medtl.infer" layout)
together with the input images it refers to. Used by the review tests, the screenshot in
docs/review.md, and for trying the app without a trained model::

    python -m medtl.review.sample OUT_DIR [--task segmentation] [--dims 2]

Images are synthetic: CT-like volumes in HU with anisotropic spacing (body, lungs, bone and a
bright lesion), or 2D ultrasound-like speckle images with a bright blob.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
from pathlib import Path

import numpy as np

from medtl.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text, sha256_file
from medtl.infer.outputs import write_preview

LABELS = {"classification": ["absent", "present"], "segmentation": ["background", "lesion"]}
SPACING = {3: (0.8, 0.8, 2.5), 2: (0.3, 0.3)}
MODEL_ID = "0" * 56 + "5a3p1e00"


def _ball(shape, centre, radius, spacing):
    grids = np.meshgrid(*[(np.arange(n) - c) * s for n, c, s in zip(shape, centre, spacing)], indexing="ij")
    return sum(g**2 for g in grids) <= radius**2


def _ct_volume(rng, shape, spacing, lesion):
    """(cols, rows, slices) HU: air, soft-tissue body, two lungs, a spine, optional lesion."""
    vol = np.full(shape, -1000.0, dtype=np.float32)
    x, y = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")
    body = (x / 0.9) ** 2 + (y / 0.7) ** 2 <= 1
    lungs = (((x - 0.4) / 0.3) ** 2 + (y / 0.45) ** 2 <= 1) | (((x + 0.4) / 0.3) ** 2 + (y / 0.45) ** 2 <= 1)
    spine = (x / 0.12) ** 2 + ((y - 0.5) / 0.12) ** 2 <= 1
    vol[body] = 40.0
    vol[lungs] = -820.0
    vol[spine] = 700.0
    vol += rng.normal(0, 12, size=shape).astype(np.float32)
    mask = np.zeros(shape, dtype=np.uint8)
    if lesion:
        centre = (shape[0] * 0.68, shape[1] * 0.45, shape[2] * rng.uniform(0.35, 0.65))
        mask = _ball(shape, centre, 5.0, spacing).astype(np.uint8)
        vol[mask > 0] = 90.0 + rng.normal(0, 8, size=int(mask.sum()))
    return vol, mask


def _us_image(rng, shape, lesion):
    """(cols, rows) 0..255 speckle with an optional bright blob."""
    img = rng.gamma(2.0, 30.0, size=shape).astype(np.float32)
    mask = np.zeros(shape, dtype=np.uint8)
    if lesion:
        mask = _ball(shape, (shape[0] * 0.4, shape[1] * 0.55), 8.0, (1.0, 1.0)).astype(np.uint8)
        img[mask > 0] += 110.0
    return np.clip(img, 0, 255), mask


def _affine(spacing):
    aff = np.eye(4)
    for i, s in enumerate(spacing):
        aff[i, i] = s
    return aff


def _write_nifti(path: Path, array: np.ndarray, spacing) -> None:
    import nibabel as nib

    data = array if array.ndim == 3 else array[..., None]  # a 2D mask as a one-slice volume
    atomic_write_bytes(path, gzip.compress(nib.Nifti1Image(data, _affine(spacing)).to_bytes(), mtime=0))


def _write_input(path: Path, image: np.ndarray, spacing) -> None:
    if image.ndim == 3:
        _write_nifti(path, image.astype(np.int16), spacing)
    else:
        from PIL import Image

        out = io.BytesIO()
        Image.fromarray(image.T.astype(np.uint8)).save(out, format="PNG")  # (cols, rows) -> H x W
        atomic_write_bytes(path, out.getvalue())


def _entropy(p: np.ndarray) -> float:
    p = np.clip(p, 1e-12, 1.0)
    return float(-(p * np.log(p)).sum() / np.log(len(p)))


def _seg_triage(rng, mask: np.ndarray, case: dict, row: dict, spacing) -> np.ndarray:
    """Synthetic triage fields of a segmentation case (as ``medtl.infer.triage`` writes them): an
    entropy map peaking off the middle slice, its most uncertain slices, uncertainty and flags."""
    from medtl.infer.seg_uncertainty import uncertain_slices

    shape = mask.shape
    peak = [s * f for s, f in zip(shape, (rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.3)))]
    level = float(rng.uniform(0.05, 0.6))
    dist2 = sum(((np.indices(shape)[d] - peak[d]) * spacing[d]) ** 2 for d in range(len(shape)))
    entropy = (level * np.exp(-dist2 / (2 * 5.0**2))).astype(np.float32)
    flags = []
    if not mask.any():
        flags.append({"code": "empty", "reason": "nothing segmented; 0% of the 40 training masks were empty"})
    if level > 0.4:
        flags.append({"code": "touches_border", "reason": "the mask reaches the edge of the image (12 voxels)"})
    case.update(uncertainty=round(level, 6), confidence=round(1 - level, 6), flags=flags,
                uncertainty_parts={"entropy": round(level, 6)}, uncertain_slices=uncertain_slices(entropy))
    row.update(confidence=f"{1 - level:.6f}", uncertainty=f"{level:.6f}", flags=";".join(f["code"] for f in flags))
    return entropy


def write_sample_scores(
    out_dir: str | Path,
    inputs_dir: str | Path,
    *,
    task: str = "classification",
    spatial_dims: int = 3,
    n_cases: int = 6,
    n_failed: int = 1,
    seed: int = 0,
    triage: bool = True,
) -> Path:
    """Write ``n_cases`` input images under ``inputs_dir`` and their scoring output under ``out_dir``
    (predictions.csv, run_manifest.json, errors.jsonl, cases/<id>/preview.npz + case.json, and
    masks/<id>.nii.gz for segmentation). ``n_failed`` extra inputs are recorded as failed cases.
    ``triage=False`` writes segmentation cases as medtl did before issue #17 (no uncertainty,
    flags, uncertain slices or entropy map). Deterministic for a given ``seed``."""
    out_dir, inputs_dir = Path(out_dir), Path(inputs_dir).resolve()
    rng = np.random.default_rng(seed)
    labels, spacing = LABELS[task], SPACING[spatial_dims]
    modality = "CT" if spatial_dims == 3 else "US"
    ext = ".nii.gz" if spatial_dims == 3 else ".png"
    rows, cases, errors = [], {}, []
    for i in range(n_cases + n_failed):
        source = f"{'ct' if spatial_dims == 3 else 'us'}/case_{i:03d}{ext}"
        case_id = source.replace("/", "__")
        if i >= n_cases:  # a case that could not be read
            atomic_write_bytes(inputs_dir / source, b"not an image")
            errors.append({"case_id": case_id, "source": source, "code": "unreadable_image" if spatial_dims == 2
                           else "unreadable_nifti", "message": "could not decode the file"})
            cases[case_id] = {"source": source, "root": str(inputs_dir),
                              "input_sha256": sha256_file(inputs_dir / source), "outputs": [], "status": "failed"}
            rows.append({"case_id": case_id, "source": source, "status": "failed"})
            continue
        lesion = bool(i % 2)
        if spatial_dims == 3:
            image, mask = _ct_volume(rng, (48, 40, 12), spacing, lesion)
        else:
            image, mask = _us_image(rng, (64, 48), lesion)
        _write_input(inputs_dir / source, image, spacing)
        case = {"case_id": case_id, "source": source, "modality": modality, "shape": list(image.shape),
                "spacing": list(spacing), "task": task}
        cam = entropy = None
        row = {"case_id": case_id, "source": source}
        outputs = [f"cases/{case_id}/preview.npz", f"cases/{case_id}/case.json"]
        if task == "classification":
            p_present = float(np.clip((0.75 if lesion else 0.25) + rng.normal(0, 0.2), 0.02, 0.98))
            probs = np.array([1 - p_present, p_present])
            k = int(probs.argmax())
            case.update(probabilities={lab: float(p) for lab, p in zip(labels, probs)}, predicted_label=labels[k],
                        confidence=float(probs[k]), uncertainty=_entropy(probs), volumes_ml=None)
            row.update({f"prob_{lab}": f"{p:.6f}" for lab, p in zip(labels, probs)})
            row.update(predicted_label=labels[k], confidence=f"{probs[k]:.6f}", uncertainty=f"{_entropy(probs):.6f}")
            centre = [s * (0.68 if d == 0 else 0.45 if d == 1 else 0.5) for d, s in enumerate(image.shape)]
            cam = np.exp(-sum(((np.indices(image.shape)[d] - centre[d]) * spacing[d]) ** 2
                              for d in range(image.ndim)) / (2 * 6.0**2)).astype(np.float32)
            cam = cam / cam.max()
            mask_out = None
        else:
            mask_out = mask
            key, json_key, scale = (("volume_ml", "volumes_ml", 1e-3) if spatial_dims == 3
                                    else ("area_mm2", "areas_mm2", 1.0))
            size = round(float(mask.sum() * np.prod(spacing) * scale), 6)
            case.update(probabilities=None, predicted_label=None, confidence=None, uncertainty=None,
                        volumes_ml=None)
            case[json_key] = {labels[1]: size}
            row[f"{key}_{labels[1]}"] = f"{size}"
            if triage:
                entropy = _seg_triage(rng, mask, case, row, spacing)
            mask_path = out_dir / "masks" / f"{case_id}.nii.gz"
            _write_nifti(mask_path, mask.astype(np.uint8), spacing)
            outputs.append(f"masks/{case_id}.nii.gz")
        row["status"] = "ok"
        rows.append(row)
        write_preview(out_dir / "cases" / case_id / "preview.npz", image=image, spacing=spacing,
                      affine=_affine(spacing), mask=mask_out, cam=cam, entropy=entropy)  # the scorer's own format
        atomic_write_json(out_dir / "cases" / case_id / "case.json", case)
        cases[case_id] = {"source": source, "root": str(inputs_dir), "input_sha256": sha256_file(inputs_dir / source),
                          "outputs": outputs, "status": "ok"}
    fieldnames = list(dict.fromkeys(k for r in rows if r["status"] == "ok" for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fieldnames, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out_dir / "predictions.csv", buf.getvalue())
    atomic_write_text(out_dir / "errors.jsonl", "".join(json.dumps(e) + "\n" for e in errors))
    atomic_write_json(out_dir / "run_manifest.json", {
        "model_id": MODEL_ID, "weights_sha256": MODEL_ID, "medtl_version": "0.1.0", "task": task,
        "label_names": labels, "inputs": [str(inputs_dir)], "started": "2026-11-27T09:00:00+00:00",
        "finished": "2026-11-27T09:00:05+00:00",
        "counts": {"total": n_cases + n_failed, "ok": n_cases, "failed": n_failed}, "cases": cases,
    })
    return out_dir


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--inputs", type=Path, help="where to write the input images (default OUT/../sample_inputs)")
    ap.add_argument("--task", choices=sorted(LABELS), default="classification")
    ap.add_argument("--dims", type=int, choices=(2, 3), default=3)
    ap.add_argument("--cases", type=int, default=6)
    args = ap.parse_args(argv)
    inputs = args.inputs or args.out.parent / f"{args.out.name}_inputs"
    write_sample_scores(args.out, inputs, task=args.task, spatial_dims=args.dims, n_cases=args.cases)
    print(f"wrote {args.out} (inputs in {inputs})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
