"""A DICOM series mixing orientations and image sizes, shared by the data and scoring tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from medtl.data.synthetic import write_dicom_series

UID = "1.2.826.0.1.3680043.8.498.777"
AXIAL, SAGITTAL, CORONAL = (1, 0, 0, 0, 1, 0), (0, 1, 0, 0, 0, -1), (1, 0, 0, 0, 0, -1)


def add_part(folder: Path, scratch: Path, name: str, volume: np.ndarray, orientation, **kw) -> None:
    """Write a series with the shared UID into ``scratch``, then move its files into ``folder``
    under new names (the writer names files after the series UID)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = write_dicom_series(scratch / name, volume, series_uid=UID, orientation=orientation, **kw)
    for i, f in enumerate(files):
        shutil.move(f, folder / f"{name}_{i:03d}.dcm")


def write_mixed_series(folder: Path, scratch: Path, volume: np.ndarray) -> Path:
    """One series in ``folder``: all of ``volume`` axial, its first 3 slices coronal, and a
    2-slice sagittal localizer of a quarter of the size (files named ax_*, cor_*, loc_*)."""
    add_part(folder, scratch, "ax", volume, AXIAL)
    add_part(folder, scratch, "loc", volume[: volume.shape[0] // 2, : volume.shape[1] // 2, :2], SAGITTAL,
             series_number=2)
    add_part(folder, scratch, "cor", volume[:, :, :3], CORONAL, series_number=3)
    return folder
