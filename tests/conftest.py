"""Shared fixtures: small deterministic volumes and the optional real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# One intra-op thread per test process: results of the small training tests then do not depend on
# the core count of the machine (float reductions split across threads round differently), and
# torch threads do not oversubscribe the 2 CI cores next to DataLoader workers and subprocesses.
# Subprocesses the tests start (torchrun, medtl score) inherit it through the environment.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# No test downloads pretrained weights from the internet (medtl.models.download); the download
# tests turn this off and point MEDTL_WEIGHTS_URL_BASE at a server on 127.0.0.1.
os.environ["MEDTL_OFFLINE"] = "1"
try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a hard dependency
    pass

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The read-only real-data folder beside the repository; tests using it skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available at {SHARED_DATA}")
    return SHARED_DATA.resolve()


@pytest.fixture
def small_volume() -> np.ndarray:
    """An 8 x 6 x 5 int16 volume (cols, rows, slices) whose every voxel value is unique."""
    return (np.arange(8 * 6 * 5, dtype=np.int16).reshape(8, 6, 5) * 7 - 100).astype(np.int16)


# torch's gloo backend can abort a process at interpreter teardown, after all collectives have
# finished ("terminate called without an active exception"; pytorch/pytorch#179291 describes the
# mechanism). It is rare (0 in 70 local runs, once in CI) and not what the DDP tests check, so a
# launch that died with exactly that message is run once more; any other failure, or the same
# abort twice, fails the test.
GLOO_TEARDOWN_ABORT = "terminate called without an active exception"


@pytest.fixture
def torchrun():
    """Run ``python -m torch.distributed.run --standalone --nproc_per_node N ARGS`` and return the
    finished process; one retry on gloo's teardown abort only, after removing the ``fresh`` folders
    (the outputs of the first attempt)."""
    import shutil
    import subprocess
    import sys

    def run(args, *, nproc: int = 2, cwd, env=None, timeout: float = 300, fresh=()):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
               *map(str, args)]
        env = dict(os.environ if env is None else env, OMP_NUM_THREADS="1")
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 and GLOO_TEARDOWN_ABORT in proc.stderr:
            print(f"torchrun: gloo teardown abort, rerunning once:\n{proc.stderr[-2000:]}")
            for folder in fresh:
                shutil.rmtree(folder, ignore_errors=True)
            proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        return proc

    return run
