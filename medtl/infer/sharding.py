"""Split a run across processes and merge the parts into one output folder.

Cases are dealt round-robin by their position in the (deterministic) case list, so every process
computes the same split from the same command line. ``torchrun`` ranks (RANK/WORLD_SIZE) or
``--num-parts/--part-id`` choose the part. Each part writes only its own cases' files plus
``OUT/parts/part-<i>-of-<n>.json``; :func:`merge` turns the parts' per-case records into one
``predictions.csv``, ``errors.jsonl`` and ``run_manifest.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from medtl.errors import MedtlError
from medtl.fileio import atomic_write_json, confined

PARTS_DIR = "parts"


@dataclass(frozen=True)
class Part:
    num_parts: int = 1
    part_id: int = 0

    def __post_init__(self) -> None:
        if self.num_parts < 1 or not 0 <= self.part_id < self.num_parts:
            raise MedtlError(f"--part-id must be in 0..{self.num_parts - 1} and --num-parts >= 1 "
                             f"(got part {self.part_id} of {self.num_parts})", code="usage")

    def select(self, items: list) -> list[int]:
        """Indices (into ``items``) this part scores."""
        return [i for i in range(len(items)) if i % self.num_parts == self.part_id]

    @property
    def file_name(self) -> str:
        return f"part-{self.part_id}-of-{self.num_parts}.json"


def part_from_env(num_parts: int = 1, part_id: int = 0) -> tuple[Part, bool]:
    """The explicit part, or torchrun's RANK/WORLD_SIZE when set. Returns (part, distributed)."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if num_parts == 1 and world > 1:
        return Part(world, int(os.environ.get("RANK", "0"))), True
    return Part(num_parts, part_id), False


def write_part(out_dir: str | Path, part: Part, record: dict) -> None:
    atomic_write_json(confined(out_dir, f"{PARTS_DIR}/{part.file_name}"), record)


def clear_stale_parts(out_dir: str | Path, part: Part) -> None:
    """Part files of an earlier run split differently would confuse the merge."""
    folder = confined(out_dir, PARTS_DIR)
    if not folder.is_dir():
        return
    for path in folder.glob("part-*-of-*.json"):
        if not path.name.endswith(f"-of-{part.num_parts}.json"):
            path.unlink(missing_ok=True)


def read_parts(out_dir: str | Path) -> list[dict]:
    """The parts of the latest run, complete or not; raises when none or inconsistent."""
    folder = confined(out_dir, PARTS_DIR)
    parts = []
    for path in sorted(folder.glob("part-*-of-*.json")) if folder.is_dir() else []:
        try:
            parts.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise MedtlError(f"unreadable part record: {exc}", path=path, code="bad_output") from None
    if not parts:
        raise MedtlError("no scoring parts found (nothing scored into this folder yet)", path=out_dir, code="usage")
    sizes = {p["num_parts"] for p in parts}
    if len(sizes) != 1:
        raise MedtlError(f"parts from runs split differently ({sorted(sizes)}); rescore", path=out_dir,
                         code="usage")
    return sorted(parts, key=lambda p: p["part_id"])


def missing_parts(parts: list[dict]) -> list[int]:
    n = parts[0]["num_parts"]
    done = {p["part_id"] for p in parts if p.get("finished")}
    return [i for i in range(n) if i not in done]


def barrier_and_is_leader(distributed: bool) -> bool:
    """Under torchrun: wait for every rank (gloo), then only rank 0 merges."""
    if not distributed:
        return True
    import torch.distributed as dist

    if not dist.is_initialized():
        if "MASTER_ADDR" not in os.environ:
            return int(os.environ.get("RANK", "0")) == 0
        dist.init_process_group("gloo")
    dist.barrier()
    leader = dist.get_rank() == 0
    dist.destroy_process_group()
    return leader
