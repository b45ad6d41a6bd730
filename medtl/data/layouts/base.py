"""What a layout inference returns, and the file-name helpers every layout shares."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from medtl.data.manifest import ManifestRow
from medtl.data.read import NIFTI_SUFFIXES, RASTER_SUFFIXES
from medtl.errors import DataError

TASKS = ("classification", "segmentation")
TASK_CHOICE = "--task classification|segmentation"
# "<stem>_mask", "<stem>_mask_1", "<stem>_mask2" (BUSI names its extra masks "<stem>_mask_1.png")
MASK_NAME = re.compile(r"^(?P<stem>.+?)_mask(?:[_-]?\d+)?$", re.IGNORECASE)


@dataclass
class Layout:
    """A folder read as a dataset: the manifest rows it stands for and how they were found."""

    name: str  # "msd", "class-folders", "mask-siblings", "mask-folder", "dicom-uid-csv"
    root: Path
    task: str  # the task the rows were built for
    rows: list[ManifestRow]
    summary: str  # the one line printed when the layout is used
    label_names: list[str] | None = None  # None: derived as for a manifest (sorted classes, mask values)
    modality: str | None = None
    left_out: list[str] = field(default_factory=list)  # "path: reason" for files that are not rows

    def sidecar(self) -> dict:
        """What a manifest sidecar JSON would hold for these rows."""
        info: dict = {}
        if self.label_names:
            info["label_names"] = list(self.label_names)
        if self.modality:
            info["modality"] = self.modality
        return info


def split_name(name: str) -> tuple[str, str]:
    """``"a.nii.gz"`` -> ``("a", ".nii.gz")``; ``"b.png"`` -> ``("b", ".png")``."""
    lower = name.lower()
    for suffix in NIFTI_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)], name[-len(suffix):]
    path = Path(name)
    return path.stem, path.suffix


def is_image_file(path: Path) -> bool:
    """NIfTI or raster by name (DICOM is found by content, through discover_scans)."""
    return path.is_file() and path.name.lower().endswith(NIFTI_SUFFIXES + RASTER_SUFFIXES)


def mask_stem(path: Path) -> str | None:
    """The image stem a ``<stem>_mask*`` file belongs to, else None."""
    match = MASK_NAME.match(split_name(path.name)[0])
    return match.group("stem") if match else None


def visible(folder: Path) -> list[Path]:
    """Entries of ``folder`` not hidden (no leading "."), sorted by name."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def make_row(index: int, root: Path, image: Path | str, *, label: str | None = None,
             mask: str | list[str] | None = None, split: str | None = None) -> ManifestRow:
    """A manifest row; ``index`` is 1-based, its line the one it gets in the written CSV (after the
    header), so a folder and its written manifest split identically."""
    image = Path(image)
    try:
        text = image.relative_to(root).as_posix()
    except ValueError:
        text = str(image)
    return ManifestRow(index + 1, str(image), text, label, mask, None, split)


def check_task(task: str | None, natural: str | None, layout: str, root: Path, allowed: tuple[str, ...]) -> str:
    """The task to build rows for: ``task`` when given and possible, else the layout's own one."""
    if task is None:
        if natural is None:
            raise DataError(f"{layout}: ambiguous, it can be read for classification or segmentation; "
                            f"choose with {TASK_CHOICE}", path=root, code="ambiguous_layout")
        return natural
    if task not in allowed:
        raise DataError(f"{layout} cannot be read for {task} (possible: {', '.join(allowed)}); "
                        f"use --task {'|'.join(allowed)}", path=root, code="wrong_task")
    return task


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 or word.endswith('s') else 's'}"


def scan_paths(folder: Path, *, dicom_only: bool = False) -> tuple[list[Path], list[str]]:
    """Scan paths in ``folder`` (files, or DICOM series folders) and 'path: reason' of the rest: a
    manifest row names a file or a folder, so series sharing a folder cannot be rows."""
    from medtl.data.discover import discover_scans

    paths, left_out = [], []
    for ref in discover_scans(folder):
        if dicom_only and ref.format != "dicom":
            continue  # the labels CSV, its sidecar, notes: not candidates
        if ref.error is not None:
            left_out.append(f"{ref.path}: {ref.error.message}")
        elif ref.part:
            left_out.append(f"{ref.path}: part {ref.part} of a series mixing sizes or orientations; a manifest "
                            "names whole series, so move the part's files into a folder of their own")
        elif "#" in ref.id:
            left_out.append(f"{ref.path}: folder holds several DICOM series (series {ref.series_uid}); "
                            "give each series its own folder")
        else:
            paths.append(Path(ref.path))
    return paths, left_out
