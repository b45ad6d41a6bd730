"""Rehearsal: a small, seeded, class-stratified sample of the earlier training set.

The buffer is stored in the model directory as ``rehearsal.json``. Records whose image is a
file path are stored as they are (image, label, mask, patient_id, id); records whose image is
an in-memory array (MedMNIST ``.npz`` sources) are stored as references
``{"fingerprint", "split", "index"}`` into ``DataSource.records[split]`` and resolved again
from the source file, after checking its sha256 fingerprint, by :meth:`RehearsalBuffer.resolve`.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medtl.errors import ConfigError, DataError, ModelDirError

REHEARSAL_FILE = "rehearsal.json"
FORMAT = "medtl-rehearsal/1"
_RECORD_KEYS = ("id", "image", "label", "mask", "patient_id")


def _stratum(record: dict) -> Any:
    label = record.get("label")
    return tuple(label) if isinstance(label, list) else label


def stratified_indices(records: Sequence[dict], size: int, seed: int = 0) -> list[int]:
    """Indices of a seeded sample of ``size`` records, class proportions kept (largest
    remainder), at least one per class when ``size`` allows; all indices if ``size`` is larger
    than the set. Sorted, so the result does not depend on anything but (records, size, seed)."""
    if size < 0:
        raise ConfigError(f"rehearsal size must be >= 0 (got {size})")
    if size >= len(records):
        return list(range(len(records)))
    groups: dict[Any, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        groups[_stratum(rec)].append(i)
    keys = sorted(groups, key=repr)
    n = len(records)
    exact = {k: size * len(groups[k]) / n for k in keys}
    quota = {k: int(exact[k]) for k in keys}
    if size >= len(keys):  # every class represented
        for k in keys:
            quota[k] = max(quota[k], 1)
    while sum(quota.values()) > size:  # the minimum-one rule overshot: trim the largest quotas
        k = max((c for c in keys if quota[c] > 1), key=lambda c: (quota[c] - exact[c], quota[c]))
        quota[k] -= 1
    order = sorted(keys, key=lambda c: (-(exact[c] - quota[c]), repr(c)))  # largest remainder first
    while sum(quota.values()) < size:
        for k in order:
            if sum(quota.values()) < size and quota[k] < len(groups[k]):
                quota[k] += 1
    rng = random.Random(seed)
    chosen: list[int] = []
    for k in keys:
        chosen.extend(rng.sample(groups[k], min(quota[k], len(groups[k]))))
    return sorted(chosen)


@dataclass
class RehearsalBuffer:
    """A stored sample of an earlier training set. ``entries`` are JSON-ready dicts: either
    ``{"record": {...}}`` (path-based) or ``{"ref": {"fingerprint", "split", "index"}, "id",
    "label"}`` (array-based sources)."""

    entries: list[dict]
    source: str
    fingerprint: str
    task: str = "classification"
    label_names: list[str] = field(default_factory=list)
    split: str = "train"
    seed: int = 0
    requested_size: int = 0

    @classmethod
    def sample(cls, data, size: int, *, seed: int = 0, split: str = "train") -> RehearsalBuffer:
        """Sample ``size`` records of ``data.records[split]`` (``data`` is a medtl.data.DataSource)."""
        records = data.records.get(split) or []
        if not records:
            raise DataError(f"no {split!r} records to build a rehearsal buffer from", path=data.source)
        entries = []
        for i in stratified_indices(records, size, seed):
            rec = records[i]
            if isinstance(rec.get("image"), (str, Path)):
                entries.append({"record": {k: _jsonable(rec.get(k)) for k in _RECORD_KEYS if k in rec}})
            else:
                entries.append({"ref": {"fingerprint": data.fingerprint, "split": split, "index": i},
                                "id": rec.get("id"), "label": _jsonable(rec.get("label"))})
        return cls(entries=entries, source=str(data.source), fingerprint=data.fingerprint, task=data.task,
                   label_names=list(data.label_names), split=split, seed=seed, requested_size=size)

    def __len__(self) -> int:
        return len(self.entries)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "source": self.source, "fingerprint": self.fingerprint, "task": self.task,
                "label_names": self.label_names, "split": self.split, "seed": self.seed,
                "requested_size": self.requested_size, "size": len(self.entries), "entries": self.entries}

    def save(self, path: str | Path) -> Path:
        """Write ``rehearsal.json`` atomically; ``path`` is the file or the model directory."""
        from medtl.fileio import atomic_write_json

        path = Path(path)
        if path.is_dir():
            path = path / REHEARSAL_FILE
        atomic_write_json(path, self.to_dict())
        return path

    @classmethod
    def load(cls, path: str | Path) -> RehearsalBuffer:
        path = Path(path)
        if path.is_dir():
            path = path / REHEARSAL_FILE
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelDirError("rehearsal buffer not found", path=path) from exc
        except (OSError, ValueError) as exc:
            raise ModelDirError(f"unreadable rehearsal buffer: {exc}", path=path) from exc
        if not isinstance(obj, dict) or obj.get("format") != FORMAT or not isinstance(obj.get("entries"), list):
            raise ModelDirError(f"not a {FORMAT} file", path=path)
        return cls(entries=obj["entries"], source=obj.get("source", ""), fingerprint=obj.get("fingerprint", ""),
                   task=obj.get("task", "classification"), label_names=list(obj.get("label_names", [])),
                   split=obj.get("split", "train"), seed=int(obj.get("seed", 0)),
                   requested_size=int(obj.get("requested_size", len(obj["entries"]))))

    def resolve(self, data=None) -> list[dict]:
        """The buffer's training records. Array references need the original source: pass its
        ``DataSource`` as ``data`` or let this load ``self.source`` (fingerprint checked)."""
        if any("ref" in e for e in self.entries):
            if data is None:
                from medtl.data import load_source

                if not Path(self.source).exists():
                    raise DataError("rehearsal source no longer exists", path=self.source)
                data = load_source(self.source, task=self.task)
            if data.fingerprint != self.fingerprint:
                raise DataError("rehearsal source changed since the buffer was sampled "
                                f"(fingerprint {data.fingerprint[:12]} != {self.fingerprint[:12]})",
                                path=self.source)
        out = []
        for e in self.entries:
            if "record" in e:
                out.append(dict(e["record"]))
                continue
            ref = e["ref"]
            try:
                rec = dict(data.records[ref["split"]][ref["index"]])
            except (KeyError, IndexError) as exc:
                raise DataError(f"rehearsal reference {ref} not in the source", path=self.source) from exc
            if e.get("id") is not None and rec.get("id") != e["id"]:
                raise DataError(f"rehearsal reference {ref} points to {rec.get('id')!r}, expected {e['id']!r}",
                                path=self.source)
            out.append(rec)
        return out


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy scalars/arrays, tensors
        return value.tolist()
    return value


def mix(new_records: Sequence[dict], buffer_records: Sequence[dict], *, ratio: float | None = None,
        seed: int = 0) -> list[dict]:
    """New training records plus rehearsal records, shuffled with ``seed``.

    Every returned record is a copy with an int ``"rehearsal"`` key (0 new, 1 replayed), so the
    loop can tell them apart (e.g. to route replayed records of an old task to the old head) and
    default collation still sees the same keys on every record. ``ratio`` (0..1), if given, is the
    fraction of replayed records in the result: the buffer is repeated or subsampled (seeded) to
    reach it; ``None`` uses each buffer record once.
    """
    rng = random.Random(seed)
    replay = [dict(r, rehearsal=1) for r in buffer_records]
    if ratio is not None:
        if not 0 <= ratio < 1:
            raise ConfigError(f"rehearsal ratio must be in [0, 1) (got {ratio})")
        want = round(ratio * len(new_records) / (1 - ratio)) if replay else 0
        reps, rest = divmod(want, len(replay)) if replay else (0, 0)
        replay = replay * reps + rng.sample(replay, rest)
    mixed = [dict(r, rehearsal=0) for r in new_records] + replay
    rng.shuffle(mixed)
    return mixed
