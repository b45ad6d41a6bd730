"""Images with their masks beside them: ``<stem>.<ext>`` + ``<stem>_mask*.<ext>`` siblings, or a
parallel ``masks/`` (``labels/``) folder holding the same stems as ``images/``.

Several masks of one image (BUSI's ``x_mask.png``, ``x_mask_1.png``) are listed together in the
``mask`` cell and merged as a union when read (``medtl.data.masks``); nothing is written.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from medtl.data.layouts.base import (
    Layout,
    check_task,
    is_image_file,
    make_row,
    mask_stem,
    plural,
    split_name,
    visible,
)
from medtl.errors import DataError

IMAGE_DIRS = ("images", "imgs")
MASK_DIRS = ("masks", "labels", "segmentations")


def mask_cell(masks: list[Path]) -> str | list[str]:
    return str(masks[0]) if len(masks) == 1 else [str(m) for m in masks]


def pair_siblings(files: list[Path]) -> tuple[list[Path], dict[Path, list[Path]], list[Path]]:
    """(images, image -> its ``_mask*`` files, masks without an image) among files of one folder."""
    images = [f for f in files if mask_stem(f) is None]
    by_key = {(f.parent, split_name(f.name)[0]): f for f in images}
    masks: dict[Path, list[Path]] = defaultdict(list)
    orphans = []
    for f in files:
        stem = mask_stem(f)
        if stem is None:
            continue
        image = by_key.get((f.parent, stem))
        if image is None:
            orphans.append(f)
        else:
            masks[image].append(f)
    return images, dict(masks), orphans


def _pick_dir(root: Path, names: tuple[str, ...]) -> list[Path]:
    return [root / n for n in names if (root / n).is_dir()]


def matches_folders(root: Path) -> bool:
    return bool(_pick_dir(root, IMAGE_DIRS)) and bool(_pick_dir(root, MASK_DIRS))


def matches_siblings(root: Path) -> bool:
    return any(mask_stem(f) is not None for f in root.rglob("*") if is_image_file(f))


def infer_folders(root: Path, task: str | None) -> Layout:
    task = check_task(task, "segmentation", "images/ + masks/ folders", root, ("segmentation",))
    image_dirs, mask_dirs = _pick_dir(root, IMAGE_DIRS), _pick_dir(root, MASK_DIRS)
    if len(image_dirs) > 1 or len(mask_dirs) > 1:
        both = ", ".join(f"{d.name}/" for d in image_dirs + mask_dirs)
        raise DataError(f"ambiguous: several image or mask folders ({both}); write the pairs with "
                        "`medtl manifest` from one folder pair, or a manifest CSV", path=root, code="ambiguous_layout")
    masks: dict[str, list[Path]] = defaultdict(list)
    for f in visible(mask_dirs[0]):
        if is_image_file(f):
            stem = split_name(f.name)[0]
            masks[mask_stem(f) or stem].append(f)
    images = [f for f in visible(image_dirs[0]) if is_image_file(f)]
    rows, left_out = [], []
    for image in images:
        found = masks.pop(split_name(image.name)[0], None)
        if found:
            rows.append(make_row(len(rows) + 1, root, image, mask=mask_cell(found)))
        else:
            left_out.append(f"{image}: no mask in {mask_dirs[0].name}/")
    left_out += [f"{f}: no image in {image_dirs[0].name}/" for fs in masks.values() for f in fs]
    if not rows:
        raise DataError(f"no file of {image_dirs[0].name}/ has a mask of the same name in {mask_dirs[0].name}/",
                        path=root)
    merged = sum(isinstance(r.mask, list) for r in rows)
    summary = (f"found {plural(len(rows), 'image')} in {image_dirs[0].name}/ with masks in {mask_dirs[0].name}/"
               + (f", {merged} with several masks merged" if merged else "")
               + (f", {plural(len(left_out), 'file')} without a partner left out" if left_out else ""))
    return Layout("mask-folder", root, task, rows, summary, left_out=left_out)


def infer_siblings(root: Path, task: str | None) -> Layout:
    task = check_task(task, "segmentation", "images with <stem>_mask siblings", root, ("segmentation",))
    images, masks, orphans = pair_siblings(sorted(f for f in root.rglob("*") if is_image_file(f)
                                                  and not any(p.startswith(".") for p in f.relative_to(root).parts)))
    rows = [make_row(i, root, image, mask=mask_cell(masks[image]))
            for i, image in enumerate((im for im in images if im in masks), 1)]
    left_out = [f"{im}: no <stem>_mask file" for im in images if im not in masks]
    left_out += [f"{m}: mask without an image of the same stem" for m in orphans]
    merged = sum(isinstance(r.mask, list) for r in rows)
    summary = (f"found {plural(len(rows), 'image')} with <stem>_mask siblings, {merged} with several masks merged"
               + (f", {plural(len(left_out), 'file')} without a partner left out" if left_out else ""))
    return Layout("mask-siblings", root, task, rows, summary, left_out=left_out)
