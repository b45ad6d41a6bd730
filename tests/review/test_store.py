from __future__ import annotations

import sqlite3
import threading
from datetime import datetime

import pytest

from medtl.review.store import DecisionStore, ReviewStoreError


def _rec(store, case="c1", action="accept", value="present", reviewer="Dr A", **kw):
    return store.record(case_id=case, model_id="m1", reviewer=reviewer, action=action, new_value=value, **kw)


def test_every_decision_is_a_new_row_and_the_latest_wins(tmp_path):
    store = DecisionStore(tmp_path / "r.sqlite")
    first = _rec(store, initial_value="present")
    second = _rec(store, action="correct", value="absent", reviewer="Dr B", comment="rim only")
    assert first.previous_value == "present" and second.previous_value == "present"
    third = _rec(store, action="reject", value=None)
    assert third.previous_value == "absent"
    assert store.count() == 3
    current = store.current("m1")
    assert current["c1"].id == third.id and current["c1"].action == "reject"
    assert [d.id for d in store.history("c1")] == [first.id, second.id, third.id]
    assert store.history("c1")[1].comment == "rim only" and store.history("c1")[1].reviewer == "Dr B"
    assert datetime.fromisoformat(first.decided_at).utcoffset().total_seconds() == 0


def test_current_state_is_per_model(tmp_path):
    store = DecisionStore(tmp_path / "r.sqlite")
    _rec(store)
    store.record(case_id="c1", model_id="m2", reviewer="Dr A", action="reject", new_value=None)
    assert store.current("m1")["c1"].action == "accept"
    assert store.current("m2")["c1"].action == "reject"
    assert len(store.history()) == 2


def test_table_is_append_only(tmp_path):
    path = tmp_path / "r.sqlite"
    _rec(DecisionStore(path))
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE decisions SET new_value = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM decisions")
    conn.close()
    assert DecisionStore(path).history()[0].new_value == "present"


def test_wal_mode_and_decisions_survive_reopening(tmp_path):
    path = tmp_path / "r.sqlite"
    store = DecisionStore(path)
    _rec(store)
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    again = DecisionStore(path)  # e.g. a browser refresh or a server restart
    assert again.current("m1")["c1"].reviewer == "Dr A"


def test_reviewer_is_required(tmp_path):
    store = DecisionStore(tmp_path / "r.sqlite")
    for name in ("", "   ", None):
        with pytest.raises(ReviewStoreError, match="reviewer"):
            _rec(store, reviewer=name)
    with pytest.raises(ReviewStoreError, match="action"):
        _rec(store, action="maybe")
    assert store.count() == 0


def test_bad_database_file_gives_typed_error(tmp_path):
    bad = tmp_path / "r.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ReviewStoreError) as info:
        DecisionStore(bad)
    assert info.value.path == str(bad)
    with pytest.raises(ReviewStoreError, match="does not exist"):
        DecisionStore(tmp_path / "missing" / "r.sqlite")


def test_threads_share_one_store(tmp_path):
    store = DecisionStore(tmp_path / "r.sqlite")
    errors = []

    def work(t):
        try:
            for i in range(25):
                _rec(store, case=f"t{t}-{i}", reviewer=f"R{t}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors and store.count() == 100
