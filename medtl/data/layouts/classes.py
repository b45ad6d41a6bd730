"""Class folders: ``root/<class>/...`` holding images, NIfTI files or DICOM series (one per folder).

The folder name is the label. When the images also have ``<stem>_mask*`` siblings (the BUSI
breast-ultrasound layout: ``benign/x.png`` + ``benign/x_mask.png``), every image with a mask makes
the folder a segmentation set by default, and a classification set with ``--task classification``;
when only some images have masks the layout is ambiguous and the task must be named.
"""

from __future__ import annotations

from pathlib import Path

from medtl.data.layouts.base import (
    TASKS,
    Layout,
    check_task,
    make_row,
    plural,
    scan_paths,
    split_name,
    visible,
)
from medtl.data.layouts.masks import mask_cell, pair_siblings
from medtl.errors import DataError

NAME = "class folders"


def class_dirs(root: Path) -> list[Path]:
    return [d for d in visible(root) if d.is_dir()]


def matches(root: Path) -> bool:
    """Two or more sub-folders and no scan files of their own at the top."""
    from medtl.data.read import detect_format

    top_files = [f for f in visible(root) if f.is_file() and detect_format(f) != "unknown"]
    return len(class_dirs(root)) >= 2 and not top_files


def _check_distinct_stems(root: Path, per_class: dict) -> None:
    """The same file name in two folders means paired folders (image/label), not classes."""
    seen: dict[str, str] = {}
    for name, (images, _) in per_class.items():
        for image in images:
            stem = split_name(image.name)[0]
            if seen.setdefault(stem, name) != name:
                raise DataError(f"ambiguous: {stem!r} is in both {seen[stem]}/ and {name}/, so the folders look "
                                "like paired images and labels, not classes; name them images/ and masks/ "
                                "(or labels/), or write a manifest CSV", path=root, code="ambiguous_layout")


def infer(root: Path, task: str | None) -> Layout:
    per_class, left_out = {}, []
    for folder in class_dirs(root):
        scans, skipped = scan_paths(folder)
        left_out += skipped
        images, masks, orphans = pair_siblings(scans)
        left_out += [f"{m}: mask without an image of the same stem" for m in orphans]
        if images:
            per_class[folder.name] = (images, masks)
    _check_distinct_stems(root, per_class)
    n_images = sum(len(im) for im, _ in per_class.values())
    n_masked = sum(len(m) for _, m in per_class.values())
    natural = "classification" if n_masked == 0 else "segmentation" if n_masked == n_images else None
    allowed = ("classification",) if n_masked == 0 else TASKS
    task = check_task(task, natural, f"{NAME} with {n_masked} of {n_images} images masked", root, allowed)
    rows = []
    for name, (images, masks) in per_class.items():
        for image in images:
            if task == "segmentation" and image not in masks:
                left_out.append(f"{image}: no <stem>_mask file (segmentation)")
                continue
            mask = mask_cell(masks[image]) if image in masks else None
            rows.append(make_row(len(rows) + 1, root, image, label=name, mask=mask))
    merged = sum(isinstance(r.mask, list) for r in rows)
    counts = ", ".join(f"{n} {len(im)}" for n, (im, _) in per_class.items())
    summary = (f"found {plural(n_images, 'image')} in {len(per_class)} {NAME} ({counts})"
               + (f", {n_masked} with masks, {merged} with several masks merged" if n_masked else "")
               + f"; read for {task}"
               + (f", {plural(len(left_out), 'file')} left out" if left_out else ""))
    return Layout("class-folders", root, task, rows, summary, left_out=left_out)
