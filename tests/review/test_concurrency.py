"""8 processes append 200 decisions each to one database: all 1600 rows are there afterwards."""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter

from medtl.review.store import DecisionStore

N_PROC, N_EACH = 8, 200


def _writer(path: str, proc: int, start) -> None:
    store = DecisionStore(path)
    start.wait(30)
    for i in range(N_EACH):
        store.record(case_id=f"case{i % 20}", model_id="m", reviewer=f"reviewer{proc}", action="correct",
                     new_value=f"{proc}:{i}", comment="")
    store.close()


def test_concurrent_processes_lose_nothing(tmp_path):
    path = str(tmp_path / "review.sqlite")
    DecisionStore(path).close()
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(path, p, start)) for p in range(N_PROC)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0] * N_PROC
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
