"""Unlabelled scans for self-supervised pretraining: a folder, a manifest or a MedMNIST npz.

- folder: every scan ``medtl inspect`` finds (DICOM series, NIfTI, 2D images);
- manifest CSV: its ``image`` column (labels and masks are ignored; rows whose ``split`` is val or
  test are left out, as they are someone's evaluation images);
- MedMNIST npz: its train images only.

``exclude`` names a training manifest (or npz): every image in its val or test split, as
``medtl train`` would split it with the same seed and fractions, is left out by resolved path
before anything is read, and the number left out is recorded. Each remaining file scan is read
once up front; an unreadable one, or one whose dimensionality or channel count differs from the
majority, is skipped with a coded reason instead of stopping the run.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from medtl.errors import DataError, MedtlError


@dataclass
class UnlabelledSource:
    """``records``: ``{"train": [...], "val": [...]}`` of ``{"id", "image"}``; the rest describes them."""

    records: dict[str, list[dict]]
    spatial_dims: int
    in_channels: int
    modality: str | None
    source: str
    fingerprint: str  # sha256 over the sorted ids (and the npz/manifest bytes)
    n_found: int  # scans found before exclusion and checks
    excluded: int  # left out because the exclude manifest (or the manifest's own split) holds them for val/test
    skipped: list[dict] = field(default_factory=list)  # {"id", "code", "message"}

    @property
    def n_used(self) -> int:
        return sum(len(v) for v in self.records.values())

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.records.items()}


def _resolved(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve())


def _manifest_images(path: Path) -> tuple[list[str], int]:
    """(absolute image paths of the rows usable for pretraining, rows left out as val/test)."""
    from medtl.data.manifest import SPLIT_VALUES

    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            cols = {c.strip().lower(): c for c in reader.fieldnames or []}
            if "image" not in cols:
                raise DataError("the manifest has no 'image' column", path=path)
            images, held_out = [], 0
            for row in reader:
                text = (row.get(cols["image"]) or "").strip()
                if not text:
                    continue
                split = SPLIT_VALUES.get((row.get(cols.get("split", ""), "") or "").strip().lower())
                if split in ("val", "test"):
                    held_out += 1
                    continue
                p = Path(text).expanduser()
                images.append(str(p if p.is_absolute() else path.parent / p))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read the manifest: {exc}", path=path) from None
    return images, held_out


def held_out_images(exclude: str | Path, *, seed: int = 0, val_fraction: float = 0.15,
                    test_fraction: float = 0.15) -> set[str]:
    """Resolved paths of every image in ``exclude``'s val and test splits (as ``medtl train``
    splits that manifest with the same seed and fractions). An npz holds no paths: empty set."""
    from medtl.data import load_source

    exclude = Path(exclude)
    if exclude.suffix.lower() == ".npz":
        if not exclude.is_file():
            raise DataError("exclude file not found", path=exclude, code="not_found")
        return set()
    with exclude.open(newline="", encoding="utf-8-sig") as fh:
        header = {c.strip().lower() for c in (csv.DictReader(fh).fieldnames or [])}
    task = "segmentation" if "mask" in header and "label" not in header else "classification"
    src = load_source(exclude, task=task, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
    return {_resolved(r["image"]) for split in ("val", "test") for r in src.records.get(split) or []
            if isinstance(r["image"], (str, Path))}


def _fingerprint(ids: list[str], extra: bytes = b"") -> str:
    h = hashlib.sha256(extra)
    for i in sorted(ids):
        h.update(i.encode("utf-8", "surrogateescape") + b"\0")
    return h.hexdigest()


def _split(items: list[dict], val_fraction: float, seed: int) -> dict[str, list[dict]]:
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_val = max(1, int(round(len(items) * val_fraction)))
    val = sorted(order[:n_val])
    train = sorted(order[n_val:])
    return {"train": [items[i] for i in train], "val": [items[i] for i in val]}


def _check_files(candidates: list[tuple[str, object]], log) -> tuple[list[dict], list[dict], int, int, str | None]:
    """Read every scan once; returns (usable records, skipped, spatial dims, channels, modality)."""
    from medtl.data.discover import ScanRef, read_ref
    from medtl.data.read import read_scan

    seen, skipped, modalities = [], [], []
    for rid, target in candidates:
        try:
            scan = read_ref(target) if isinstance(target, ScanRef) else read_scan(target)
        except MedtlError as exc:
            skipped.append({"id": rid, "code": exc.code, "message": exc.message})
            log(f"skipped {rid}: {exc.code}: {exc.message}")
            continue
        spatial = [int(s) for s in scan.array.shape[1:]]
        dims = 2 if len(spatial) == 2 or (len(spatial) == 3 and spatial[2] == 1) else 3
        modalities.append(scan.meta.get("modality"))
        multi = isinstance(target, ScanRef) and "#" in target.id  # a folder holding several series
        image = scan.array if multi else (target.path if isinstance(target, ScanRef) else target)
        seen.append(({"id": rid, "image": image}, dims, int(scan.array.shape[0])))
        del scan
    if not seen:
        return [], skipped, 0, 0, None
    (dims, channels), _ = Counter((d, c) for _, d, c in seen).most_common(1)[0]
    records = []
    for rec, d, c in seen:
        if (d, c) == (dims, channels):
            records.append(rec)
        else:
            reason = f"{d}D with {c} channel(s); the majority of the scans are {dims}D with {channels}"
            skipped.append({"id": rec["id"], "code": "other_geometry", "message": reason})
            log(f"skipped {rec['id']}: other_geometry: {reason}")
    return records, skipped, dims, channels, _modality(modalities)


def load_unlabelled(path: str | Path, *, exclude: str | Path | None = None, val_fraction: float = 0.05,
                    seed: int = 0, max_scans: int | None = None, split_seed: int = 0,
                    split_val_fraction: float = 0.15, split_test_fraction: float = 0.15,
                    log=print) -> UnlabelledSource:
    """The unlabelled scans under ``path`` (see the module docstring), split train/val by ``seed``.

    ``split_*`` are the seed and fractions ``medtl train`` uses on the ``exclude`` manifest.
    """
    path = Path(path)
    if not path.exists():
        raise DataError("no such file or folder", path=path, code="not_found")
    held = held_out_images(exclude, seed=split_seed, val_fraction=split_val_fraction,
                           test_fraction=split_test_fraction) if exclude else set()
    extra, modality = b"", None
    if path.is_file() and path.suffix.lower() == ".npz":
        from medtl.data.medmnist import load_medmnist
        from medtl.fileio import sha256_file

        m = load_medmnist(path)
        items = [{"id": r["id"], "image": r["image"]} for r in m.records["train"]]
        if max_scans is not None and len(items) > max_scans:
            items = [items[i] for i in sorted(random.Random(seed).sample(range(len(items)), max_scans))]
        excluded = sum(len(m.records.get(s) or []) for s in ("val", "test"))  # never used: only train is read
        n_found, skipped, dims, channels, modality = len(items) + excluded, [], m.spatial_dims, m.in_channels, m.modality
        extra = sha256_file(path).encode()
    else:
        if path.is_file() and path.suffix.lower() in (".csv", ".tsv", ".txt"):
            images, excluded = _manifest_images(path)
            candidates = [(p, p) for p in images]
        else:
            from medtl.data.discover import discover_scans

            candidates, excluded = [], 0
            for ref in discover_scans(path):
                if ref.error is not None:
                    continue  # not a scan at all (a text file, a DICOM SR...): like medtl inspect lists it
                candidates.append((ref.id, ref))
        n_found = len(candidates) + excluded
        kept = []
        for rid, target in candidates:
            where = getattr(target, "path", target)
            if _resolved(where) in held:
                excluded += 1
            else:
                kept.append((rid, target))
        if max_scans is not None and len(kept) > max_scans:  # sampled before reading: unread scans cost nothing
            kept = sorted(random.Random(seed).sample(kept, max_scans), key=lambda t: t[0])
        items, skipped, dims, channels, modality = _check_files(kept, log)
    if len(items) < 2:
        raise DataError(f"need at least 2 readable unlabelled scans, found {len(items)} "
                        f"({len(skipped)} skipped, {excluded} excluded)", path=path, code="empty")
    return UnlabelledSource(
        records=_split(items, val_fraction, seed), spatial_dims=int(dims), in_channels=int(channels),
        modality=modality, source=str(path), fingerprint=_fingerprint([i["id"] for i in items], extra),
        n_found=n_found, excluded=excluded, skipped=skipped)


def _modality(found: list[str | None]) -> str | None:
    """The most common modality the scans state (DICOM); NIfTI and images carry none."""
    found = [m for m in found if m]
    return Counter(found).most_common(1)[0][0] if found else None


