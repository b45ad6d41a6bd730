"""Medical Segmentation Decathlon / nnU-Net raw folders: ``dataset.json`` + ``imagesTr/`` + ``labelsTr/``.

Training cases are the files of ``labelsTr/`` paired with ``imagesTr/`` by case name; nnU-Net's
channel suffix (``case_0000.nii.gz``) is stripped. A case with several channel files
(``_0000``, ``_0001``) is refused with the fix (one 4D file per case, which medtl reads as
channels). ``imagesTs/`` holds no labels and is not training data. Label names come from
``labels`` in either form (MSD ``{"0": "background"}``, nnU-Net v2 ``{"background": 0}``) and the
modality from ``modality`` (MSD) or ``channel_names`` (nnU-Net v2).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from medtl.data.layouts.base import Layout, check_task, make_row, plural, split_name, visible
from medtl.errors import DataError

NAME = "MSD/nnU-Net folder"
CHANNEL = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")
MODALITIES = {"ct": "CT", "mri": "MR", "mr": "MR", "t1": "MR", "t1w": "MR", "t1gd": "MR", "t2": "MR", "t2w": "MR",
              "flair": "MR", "adc": "MR", "dwi": "MR", "pet": "PT", "us": "US", "ultrasound": "US"}


def matches(root: Path) -> bool:
    return (root / "dataset.json").is_file() and (root / "imagesTr").is_dir()


def read_dataset_json(root: Path) -> dict:
    from medtl.data.sidecar import read_json_object

    return read_json_object(root / "dataset.json")


def label_names(info: dict, path: Path) -> list[str] | None:
    """Names in label-value order, from either ``labels`` form; values must be 0..K-1."""
    labels = info.get("labels")
    if not labels:
        return None
    if not isinstance(labels, dict):
        raise DataError("'labels' must be an object", path=path)
    try:
        if all(str(k).strip().isdigit() for k in labels):  # MSD: {"0": "background"}
            by_value = {int(k): str(v) for k, v in labels.items()}
        else:  # nnU-Net v2: {"background": 0}
            by_value = {int(v): str(k) for k, v in labels.items()}
    except (TypeError, ValueError):
        raise DataError(f"'labels' {labels} are not single integer values (nnU-Net region labels are "
                        "not supported); write a manifest with `medtl manifest` and edit it", path=path) from None
    if sorted(by_value) != list(range(len(by_value))):
        raise DataError(f"label values {sorted(by_value)} are not 0..{len(by_value) - 1}", path=path)
    return [by_value[i] for i in range(len(by_value))]


def modality(info: dict) -> str | None:
    """One DICOM-style modality ("CT", "MR", ...) when every channel agrees, else None."""
    channels = info.get("modality") or info.get("channel_names") or {}
    names = {MODALITIES.get(str(v).strip().lower()) for v in channels.values()} if isinstance(channels, dict) else set()
    return names.pop() if len(names) == 1 and None not in names else None


def _cases(folder: Path, ending: str, *, channels: bool) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = defaultdict(list)
    for p in visible(folder):
        stem, ext = split_name(p.name)
        if not p.is_file() or (ending and ext.lower() != ending.lower()):
            continue
        match = CHANNEL.match(stem) if channels else None
        out[match.group("case") if match else stem].append(p)
    return out


def infer(root: Path, task: str | None) -> Layout:
    task = check_task(task, "segmentation", NAME, root, ("segmentation",))
    info = read_dataset_json(root)
    names = label_names(info, root / "dataset.json")
    ending = str(info.get("file_ending") or "")
    labels_dir = root / "labelsTr"
    if not labels_dir.is_dir():
        raise DataError("no labelsTr/ folder: an MSD/nnU-Net folder needs its training labels", path=root)
    images, labels = _cases(root / "imagesTr", ending, channels=True), _cases(labels_dir, ending, channels=False)
    multi = sorted(c for c, files in images.items() if len(files) > 1)
    if multi:
        raise DataError(f"case {multi[0]!r} has {len(images[multi[0]])} channel files "
                        f"({', '.join(p.name for p in images[multi[0]])}) ({plural(len(multi), 'such case')}); "
                        "medtl reads one file per image: stack the channels into one 4D NIfTI per case "
                        "(read as channels)", path=root / "imagesTr")
    no_image = sorted(set(labels) - set(images))
    if no_image:
        raise DataError(f"{plural(len(no_image), 'label')} without an image in imagesTr/: "
                        f"{', '.join(no_image[:5])}", path=labels_dir)
    rows = [make_row(i, root, images[c][0], mask=str(labels[c][0])) for i, c in enumerate(sorted(labels), 1)]
    unlabelled = sorted(set(images) - set(labels))
    if not rows:
        raise DataError("labelsTr/ holds no label files", path=labels_dir)
    test = root / "imagesTs"
    extra = f", {plural(len(unlabelled), 'image')} in imagesTr/ without a label left out" if unlabelled else ""
    extra += ", imagesTs/ (no labels) not used" if test.is_dir() else ""
    summary = (f"found {plural(len(rows), 'labelled case')} in an {NAME} ({info.get('name') or root.name}, "
               f"{len(names) - 1 if names else '?'} foreground labels){extra}")
    return Layout("msd", root, task, rows, summary, names, modality(info),
                  [f"{root / 'imagesTr' / c}: no label in labelsTr/" for c in unlabelled])
