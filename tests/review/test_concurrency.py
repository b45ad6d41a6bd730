"""8 processes append 200 decisions each to one database: all 1600 rows are there afterwards."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from medtl.review.store import DecisionStore

N_PROC, N_EACH = 8, 200

# Each writer is a separate interpreter (not multiprocessing): the test then does not depend on
# what the test session's __main__ module is, and it is exactly how reviewers' app servers run.
WRITER = """
import sys, time
from pathlib import Path
from medtl.review.store import DecisionStore
path, proc, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
store = DecisionStore(path)
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.01)
for i in range(N_EACH):
    store.record(case_id=f"case{i % 20}", model_id="m", reviewer=f"reviewer{proc}", action="correct",
                 new_value=f"{proc}:{i}", comment="")
store.close()
""".replace("N_EACH", str(N_EACH))


def test_concurrent_processes_lose_nothing(tmp_path):
    path = str(tmp_path / "review.sqlite")
    go = tmp_path / "go"
    DecisionStore(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, path, str(p), str(go)],
                              cwd=Path(__file__).resolve().parents[2]) for p in range(N_PROC)]
    go.touch()
    codes = [p.wait(timeout=240) for p in procs]
    assert codes == [0] * N_PROC
    rows = DecisionStore(path).history()
    assert len(rows) == N_PROC * N_EACH
    assert Counter(r.reviewer for r in rows) == {f"reviewer{p}": N_EACH for p in range(N_PROC)}
    assert len({r.new_value for r in rows}) == N_PROC * N_EACH
    # each process's own decisions keep their order, and previous_value chains per case
    for p in range(N_PROC):
        mine = [int(r.new_value.split(":")[1]) for r in rows if r.reviewer == f"reviewer{p}"]
        assert mine == list(range(N_EACH))
    last = {}
    for r in rows:
        assert r.previous_value == last.get(r.case_id)
        last[r.case_id] = r.new_value
