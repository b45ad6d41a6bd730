"""Builders for scoring tests: tiny model directories and small inputs in several formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

CANARY = "CANARY7Q"


def make_model_dir(path: Path, *, task: str = "classification", spatial_dims: int = 2,
                   image_size=(32, 32), intensity: str = "minmax", num_classes: int = 2,
                   label_names=("absent", "present"), target_spacing=None, seed: int = 0,
                   resize_mode: str = "resize", threshold: float = 0.5, temperature: float = 1.0) -> Path:
    from medtl.data import PreprocessConfig
    from medtl.models import ModelConfig, build_model, save_model_dir

    torch.manual_seed(seed)
    cfg = ModelConfig(task=task, encoder="tiny", weights="none", spatial_dims=spatial_dims, in_channels=1,
                      num_classes=num_classes)
    model = build_model(cfg).eval()
    pre = PreprocessConfig(spatial_dims=spatial_dims, image_size=tuple(image_size), in_channels=1,
                           intensity=intensity, window=(400.0, 40.0) if intensity == "ct_window" else None,
                           target_spacing=target_spacing, resize_mode=resize_mode)
    save_model_dir(path, model, model_cfg=cfg, preprocess=pre, label_names=list(label_names),
                   threshold=threshold, temperature=temperature)
    return path


def seg_model_dir(path: Path, **kw) -> Path:
    kw.setdefault("image_size", (32, 32, 16))
    return make_model_dir(path, task="segmentation", spatial_dims=3, intensity="ct_window",
                          label_names=("background", "lesion"), **kw)


def write_pngs(folder: Path, n: int, *, size=(48, 40), seed: int = 0) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        arr = (rng.random(size) * 200).astype(np.uint8)
        arr[10:20, 10:20] = 255 if i % 2 else 0
        p = folder / f"img_{i:03d}.png"
        Image.fromarray(arr).save(p)
        paths.append(p)
    return paths


def ct_volume(shape=(40, 36, 12), seed: int = 0) -> np.ndarray:
    """Stored int16 values (HU + 1024) with a bright sphere."""
    rng = np.random.default_rng(seed)
    vol = rng.normal(40, 20, shape) + 1024
    idx = np.indices(shape)
    centre = [s / 2 for s in shape]
    r = np.sqrt(sum((i - c) ** 2 for i, c in zip(idx, centre)))
    vol[r < min(shape) / 3] += 150
    return vol.astype(np.int16)


def write_ct_nifti(path: Path, *, shape=(40, 36, 12), spacing=(0.7, 0.9, 3.0), seed: int = 0) -> Path:
    from medtl.data.synthetic import write_nifti

    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = (-12.0, 30.0, 5.0)
    return write_nifti(path, ct_volume(shape, seed).astype(np.float32) - 1024, affine)


def write_ct_series(folder: Path, *, shape=(40, 36, 10), canary: str | None = None, seed: int = 0,
                    **kw) -> list[Path]:
    from medtl.data.synthetic import write_dicom_series

    extra = None
    name, pid = "SYNTH^PATIENT", "SYNTH01"
    if canary:
        name, pid = f"{canary}^NAME", f"{canary}ID"
        extra = {"PatientBirthDate": "19700101", "AccessionNumber": f"{canary}AC",
                 "InstitutionName": f"{canary} Hospital", "ReferringPhysicianName": f"{canary}^DOC",
                 "OtherPatientIDs": f"{canary}OTHER"}
    return write_dicom_series(folder, ct_volume(shape, seed), spacing=(0.8, 0.7, 2.5), origin=(10.0, -20.0, 30.0),
                              patient_name=name, patient_id=pid, extra_tags=extra, seed=seed, **kw)


def write_ct_multiframe(folder: Path, *, shape=(16, 16, 5), canary: str | None = None, shuffle_frames: bool = False,
                        orientation_per_frame: bool = False, seed: int = 0) -> Path:
    """One Enhanced CT file: positions in the per-frame functional groups, orientation and pixel
    measures in the shared ones (``orientation_per_frame``: orientation repeated per frame).
    ``shuffle_frames`` stores the frames (pixels with their per-frame groups) in a seeded random
    order; ``canary`` also goes into each frame's FrameComments."""
    import pydicom
    from pydicom.dataset import Dataset

    (path,) = write_ct_series(folder, shape=shape, canary=canary, seed=seed, multiframe="enhanced")
    ds = pydicom.dcmread(path)
    frames, groups = ds.pixel_array, list(ds.PerFrameFunctionalGroupsSequence)
    order = np.random.default_rng(seed + 1).permutation(len(groups)) if shuffle_frames else np.arange(len(groups))
    if shuffle_frames and np.all(order == np.sort(order)):
        order = order[::-1]
    shared = ds.SharedFunctionalGroupsSequence[0]
    for item in groups:
        if orientation_per_frame:
            plane = Dataset()
            plane.ImageOrientationPatient = shared.PlaneOrientationSequence[0].ImageOrientationPatient
            item.PlaneOrientationSequence = [plane]
        if canary:
            content = Dataset()
            content.FrameComments = f"{canary} frame"
            item.FrameContentSequence = [content]
    if orientation_per_frame:
        del shared.PlaneOrientationSequence
    ds.PerFrameFunctionalGroupsSequence = [groups[i] for i in order]
    ds.PixelData = np.ascontiguousarray(frames[order]).tobytes()
    ds.save_as(path)
    return path
