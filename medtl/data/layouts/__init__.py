"""Datasets in the field's folder layouts, read without a hand-written manifest.

``infer_layout(folder, task=None)`` recognises, in this order: an MSD / nnU-Net raw folder
(``dataset.json`` + ``imagesTr/`` + ``labelsTr/``), ``images/`` + ``masks/`` (or ``labels/``)
folders, class folders (``root/<class>/...``, optionally with ``<stem>_mask`` siblings) and images
with ``<stem>_mask*`` siblings; or, given a CSV file keyed by DICOM identifiers, joins it to the
series under a folder (``dicom_csv.py``). It returns the manifest rows the folder stands for
(:class:`Layout`); ``load_source`` trains from them and ``medtl manifest`` writes them out. A
folder matching none, or one that fits both tasks unevenly, is refused naming the choices.
"""

from __future__ import annotations

from pathlib import Path

from medtl.data.layouts import classes, dicom_csv, masks, msd
from medtl.data.layouts.base import Layout
from medtl.errors import DataError

__all__ = ["Layout", "infer_layout"]

KNOWN = ("an MSD/nnU-Net folder (dataset.json + imagesTr/ + labelsTr/), images/ + masks/ (or labels/) folders, "
         "class folders (<root>/<class>/...), images with <stem>_mask siblings, or a labels CSV keyed by "
         "StudyInstanceUID/SeriesInstanceUID/AccessionNumber")


def infer_layout(root: str | Path, *, task: str | None = None) -> Layout:
    """The layout of ``root`` (a folder, or a labels CSV keyed by DICOM identifiers) read for
    ``task`` (None: the layout's own task)."""
    root = Path(root)
    if dicom_csv.matches(root):
        return dicom_csv.infer(root, task)
    if not root.is_dir():
        raise DataError("not a dataset folder (nor a labels CSV keyed by DICOM identifiers)", path=root,
                        code="not_found")
    if msd.matches(root):
        return msd.infer(root, task)
    if masks.matches_folders(root):
        return masks.infer_folders(root, task)
    if any((root / d).is_dir() for d in masks.IMAGE_DIRS):
        raise DataError(f"ambiguous: an images/ folder without a masks/ or labels/ folder beside it (a label "
                        f"folder with another name?); rename the label folder to masks/ or labels/, or write a "
                        f"manifest CSV (expected {KNOWN})", path=root, code="ambiguous_layout")
    if classes.matches(root):
        return classes.infer(root, task)
    if masks.matches_siblings(root):
        return masks.infer_siblings(root, task)
    raise DataError(f"no known dataset layout; expected {KNOWN}, or pass a manifest CSV", path=root,
                    code="unknown_layout")

