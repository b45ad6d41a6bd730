"""The machine a comparison or benchmark ran on, recorded beside every number it produced."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path


def machine_info() -> dict:
    """CPU model, cores, torch threads, GPU, library versions, date and 1-minute load average."""
    import monai
    import torch

    import medtl

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "cpu": cpu, "cores": cores, "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "monai": monai.__version__, "medtl": getattr(medtl, "__version__", "?"),
        "python": platform.python_version(), "os": platform.platform(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    load = load_avg_1m()
    if load is not None:
        info["load_avg_1m"] = load
    return info


def utc_now() -> str:
    """The time now, to the second (UTC), as run records show it."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def load_avg_1m() -> float | None:
    """The 1-minute load average (how busy a shared machine was), ``None`` where the OS has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def machine_line(info: dict) -> str:
    gpu = f", GPU {info['gpu']}" if info.get("gpu") else ""
    load = f", 1-min load {info['load_avg_1m']}" if "load_avg_1m" in info else ""
    return (f"{info['cpu']} ({info['cores']} cores, {info['torch_threads']} torch threads{gpu}{load}); "
            f"torch {info['torch']}, MONAI {info['monai']}, medtl {info['medtl']}; {info['date_utc']}")
