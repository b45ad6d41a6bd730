"""Generate medtl's small synthetic sample data set (deterministic, a few MB, no real patients).

    python scripts/make_sample_data.py --out sample_data [--if-missing]

Contents (described in sample_data/README.md): CT-like DICOM series (one axial, a folder holding two
series, one oblique), 40 CT-like NIfTI volumes with a bright ellipsoidal "lesion" in three quarters and
their masks, 200 ultrasound-like PNG images with or without a bright blob, and two manifests:
classification.csv (lesion absent/present, patient ids, no split column: split by patient) and
segmentation.csv (image + mask, with a split column). Fixed seeds: re-running writes identical bytes.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from medtl.data.synthetic import write_dicom_series, write_nifti
from medtl.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text, confined

N_PNG_PATIENTS = 100  # two images each
N_VOLUMES = 40  # 28 train / 6 val / 6 test; a lesion in 3 of every 4 cases
PNG_SIZE = 64
VOL_SIZE = 32


def _grid(shape):
    return np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing="ij")


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(x, sigma)


# --- 2D ultrasound-like images --------------------------------------------------------------------
def ultrasound_image(rng: np.random.Generator, present: bool) -> np.ndarray:
    """(H, W) uint8: speckle, depth attenuation, a dark cyst-like distractor, bright tissue
    boundaries (distractors), and in "present" images a faint bright blob of varying contrast."""
    n = PNG_SIZE
    rows, cols = _grid((n, n))
    tissue = 0.55 + _smooth(rng.standard_normal((n, n)), 6)  # slow texture
    for _ in range(rng.integers(1, 3)):  # bright, slightly tilted tissue boundaries
        y0, tilt, width = rng.uniform(8, n - 8), rng.uniform(-0.3, 0.3), rng.uniform(1.0, 2.0)
        tissue += rng.uniform(0.1, 0.25) * np.exp(-((rows - y0 - tilt * (cols - n / 2)) ** 2) / (2 * width**2))
    tissue *= np.exp(-rows / (n * rng.uniform(1.2, 2.5)))  # attenuation with depth
    cy, cx, r = rng.uniform(12, n - 12), rng.uniform(12, n - 12), rng.uniform(4, 9)
    cyst = ((rows - cy) ** 2 + ((cols - cx) / rng.uniform(0.6, 1.6)) ** 2) < r**2
    tissue[cyst] *= rng.uniform(0.2, 0.6)
    if present:
        ly, lx, lr = rng.uniform(10, n - 10), rng.uniform(10, n - 10), rng.uniform(3.5, 6.5)
        blob = np.exp(-((rows - ly) ** 2 + (cols - lx) ** 2) / (2 * lr**2))
        tissue += rng.uniform(0.2, 0.5) * blob
    speckle = _smooth(rng.rayleigh(1.0, (n, n)), 0.7) / 1.25  # multiplicative speckle, mean ~1
    return np.clip(tissue * speckle * 200, 0, 255).astype(np.uint8)


def _png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image, mode="L").save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def make_pngs(out: Path) -> list[str]:
    rng = np.random.default_rng(20260101)
    lines = ["image,label,patient_id"]
    for p in range(N_PNG_PATIENTS):
        present_patient = p % 2 == 1  # half the patients have lesions, in most of their images
        for k in range(2):
            present = present_patient if k == 0 else (present_patient and rng.random() < 0.8)
            name = f"images/us_{p:03d}_{k}.png"
            atomic_write_bytes(confined(out, name), _png_bytes(ultrasound_image(rng, present)))
            lines.append(f"{name},{'present' if present else 'absent'},SYNTH{p + 1:03d}")
    return lines


# --- 3D CT-like volumes ----------------------------------------------------------------------------
def ct_volume(rng: np.random.Generator, shape, present: bool) -> tuple[np.ndarray, np.ndarray]:
    """(HU float volume, uint8 mask): air, a soft-tissue ellipsoid body, a spine, an organ slightly
    denser than soft tissue (a distractor), maybe a hyperdense, slightly ellipsoidal lesion."""
    i, j, k = _grid(shape)
    c = [s / 2 for s in shape]
    body = ((i - c[0]) / (0.42 * shape[0])) ** 2 + ((j - c[1]) / (0.34 * shape[1])) ** 2 < 1
    hu = np.where(body, 40.0, -1000.0)
    spine = ((i - c[0]) ** 2 + (j - c[1] - 0.22 * shape[1]) ** 2) < (0.07 * shape[0]) ** 2
    hu[spine] = 700.0
    organ_c = [rng.uniform(0.3, 0.4) * shape[0], rng.uniform(0.35, 0.5) * shape[1]]
    organ = ((i - organ_c[0]) / (0.16 * shape[0])) ** 2 + ((j - organ_c[1]) / (0.14 * shape[1])) ** 2 < 1
    hu[organ & body & ~spine] = 40.0 + rng.uniform(20, 40)
    mask = np.zeros(shape, dtype=np.uint8)
    if present:
        r = rng.uniform(3.0, 5.5) * rng.uniform(0.85, 1.15, size=3) / np.array([1.0, 1.0, 1.2])
        centre = [rng.uniform(0.35, 0.65) * shape[0], rng.uniform(0.3, 0.55) * shape[1], rng.uniform(0.3, 0.7) * shape[2]]
        sphere = sum(((g - m) / rr) ** 2 for g, m, rr in zip((i, j, k), centre, r)) < 1
        hu[sphere & body & ~spine] = 40.0 + rng.uniform(80, 150)
        mask[sphere & body & ~spine] = 1
    hu += _smooth(rng.standard_normal(shape), 0.6) * 25.0
    return hu, mask


def make_nifti(out: Path) -> list[str]:
    rng = np.random.default_rng(20260202)
    lines = ["image,mask,patient_id,split"]
    splits = ["train"] * 28 + ["val"] * 6 + ["test"] * 6
    for n in range(N_VOLUMES):
        hu, mask = ct_volume(rng, (VOL_SIZE,) * 3, present=n % 4 != 1)
        spacing = (1.5, 1.5, 2.0)
        if n % 4 == 3:  # stored left-right/anterior-posterior flipped (LPS-like): canonical must undo it
            affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
            affine[:3, 3] = [VOL_SIZE * spacing[0] / 2, VOL_SIZE * spacing[1] / 2, -VOL_SIZE]
            hu, mask = hu[::-1, ::-1].copy(), mask[::-1, ::-1].copy()
        else:
            affine = np.diag([*spacing, 1.0])
            affine[:3, 3] = [-VOL_SIZE * spacing[0] / 2, -VOL_SIZE * spacing[1] / 2, -VOL_SIZE]
        name = f"case_{n:02d}.nii.gz"
        write_nifti(confined(out, f"nifti/{name}"), np.round(hu).astype(np.int16), affine)
        write_nifti(confined(out, f"masks/{name}"), mask, affine)
        lines.append(f"nifti/{name},masks/{name},SYNTH{200 + n:03d},{splits[n]}")
    return lines


# --- DICOM series ----------------------------------------------------------------------------------
def _stored(hu: np.ndarray) -> np.ndarray:
    return np.clip(np.round(hu + 1024.0), -32768, 32767).astype(np.int16)  # intercept -1024


def make_dicom(out: Path) -> None:
    rng = np.random.default_rng(20260303)
    common = dict(slope=1.0, intercept=-1024.0, modality="CT")
    hu, _ = ct_volume(rng, (48, 48, 12), present=True)
    write_dicom_series(confined(out, "dicom/ct_axial"), _stored(hu), spacing=(0.8, 0.8, 2.5),
                       origin=(-19.2, -19.2, -15.0), patient_name="SYNTH^PATIENT01",
                       patient_id="SYNTH01", series_number=1, seed=1, **common)
    for number, (spacing, slices) in enumerate([((0.8, 0.8, 2.5), 10), ((0.8, 0.8, 1.25), 20)], start=1):
        hu, _ = ct_volume(rng, (40, 40, slices), present=False)
        write_dicom_series(confined(out, "dicom/two_series"), _stored(hu), spacing=spacing,
                           origin=(-16.0, -16.0, -12.5), patient_name="SYNTH^PATIENT02",
                           patient_id="SYNTH02", study_uid=None, series_number=number, seed=2, **common)
    a, b = np.radians(30.0), np.radians(30.0)  # rotated 30 degrees about x, then about y
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rot = ry @ rx
    orientation = [*rot[:, 0], *rot[:, 1]]
    hu, _ = ct_volume(rng, (40, 40, 10), present=True)
    write_dicom_series(confined(out, "dicom/oblique"), _stored(hu), spacing=(0.9, 0.9, 3.0),
                       origin=(-20.0, -10.0, 30.0), orientation=[round(float(v), 6) for v in orientation],
                       patient_name="SYNTH^PATIENT03", patient_id="SYNTH03", series_number=1, seed=3, **common)


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cls_lines = make_pngs(out)
    seg_lines = make_nifti(out)
    make_dicom(out)
    atomic_write_text(confined(out, "classification.csv"), "\n".join(cls_lines) + "\n")
    atomic_write_json(confined(out, "classification.json"), {"label_names": ["absent", "present"], "modality": "US"})
    atomic_write_text(confined(out, "segmentation.csv"), "\n".join(seg_lines) + "\n")
    atomic_write_json(confined(out, "segmentation.json"), {"label_names": ["background", "lesion"], "modality": "CT"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="sample_data", help="output folder (created)")
    parser.add_argument("--if-missing", action="store_true", help="do nothing when the manifests exist")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.if_missing and (out / "classification.csv").is_file() and (out / "segmentation.csv").is_file():
        print(f"sample data already present in {out}")
        return 0
    generate(out)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote sample data to {out} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
