"""Append-only SQLite store of review decisions.

Every decision is a new row; nothing is ever updated or deleted (triggers refuse it), so the
table is also the audit log. The current state of a case is its latest row. WAL mode and a busy
timeout let several reviewers (threads of one Streamlit server, or several processes) write at
once; each thread gets its own connection, as sqlite3 requires.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from medtl.errors import MedtlError

ACTIONS = ("accept", "reject", "correct")
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL,
    model_id TEXT NOT NULL,
    reviewer TEXT NOT NULL CHECK (length(trim(reviewer)) > 0),
    decided_at TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('accept', 'reject', 'correct')),
    previous_value TEXT,
    new_value TEXT,
    comment TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS decisions_by_case ON decisions (model_id, case_id, id);
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
"""


class ReviewStoreError(MedtlError):
    code = "bad_review_db"


@dataclass(frozen=True)
class Decision:
    id: int
    case_id: str
    model_id: str
    reviewer: str
    decided_at: str  # UTC ISO 8601
    action: str
    previous_value: str | None
    new_value: str | None
    comment: str


COLUMNS = tuple(f.name for f in fields(Decision))


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class DecisionStore:
    """``DecisionStore(path)``; safe to share between threads (one connection per thread)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()
        if not self.path.parent.is_dir():
            raise ReviewStoreError("folder of the review database does not exist", path=self.path)
        with self._errors():
            conn = self._conn()
            try:
                conn.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _errors(self):
        return _translate(self.path)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                raise ReviewStoreError("could not switch the review database to WAL mode", path=self.path)
            conn.execute("PRAGMA synchronous = FULL")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def record(
        self,
        *,
        case_id: str,
        model_id: str,
        reviewer: str,
        action: str,
        new_value: str | None,
        comment: str = "",
        initial_value: str | None = None,
    ) -> Decision:
        """Append one decision. ``previous_value`` is the case's current value (its latest
        decision's ``new_value``, else ``initial_value``, the model's prediction), read in the same
        write transaction so concurrent reviewers chain correctly."""
        reviewer = (reviewer or "").strip()
        if not reviewer:
            raise ReviewStoreError("a decision needs a reviewer name", path=self.path, code="no_reviewer")
        if action not in ACTIONS:
            raise ReviewStoreError(f"action must be one of {ACTIONS}, got {action!r}", path=self.path)
        with self._errors():
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT new_value FROM decisions WHERE model_id = ? AND case_id = ? ORDER BY id DESC LIMIT 1",
                    (model_id, case_id),
                ).fetchone()
                previous = row[0] if row else initial_value
                values = (case_id, model_id, reviewer, utc_now(), action, previous, new_value, comment or "")
                cur = conn.execute(
                    "INSERT INTO decisions (case_id, model_id, reviewer, decided_at, action, previous_value,"
                    " new_value, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return Decision(cur.lastrowid, *values)

    def current(self, model_id: str | None = None) -> dict[str, Decision]:
        """Latest decision per case (of one model when ``model_id`` is given)."""
        where, params = ("WHERE model_id = ?", (model_id,)) if model_id is not None else ("", ())
        sql = (f"SELECT {', '.join(COLUMNS)} FROM decisions WHERE id IN "
               f"(SELECT MAX(id) FROM decisions {where} GROUP BY model_id, case_id) ORDER BY id")
        return {d.case_id: d for d in self._query(sql, params)}

    def history(self, case_id: str | None = None, model_id: str | None = None) -> list[Decision]:
        """All decisions in the order they were made (the audit log), optionally for one case."""
        conds = [c for c, v in (("case_id = ?", case_id), ("model_id = ?", model_id)) if v is not None]
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        params = tuple(v for v in (case_id, model_id) if v is not None)
        return self._query(f"SELECT {', '.join(COLUMNS)} FROM decisions {where} ORDER BY id", params)

    def count(self) -> int:
        with self._errors():
            return int(self._conn().execute("SELECT COUNT(*) FROM decisions").fetchone()[0])

    def _query(self, sql: str, params: tuple) -> list[Decision]:
        with self._errors():
            return [Decision(*row) for row in self._conn().execute(sql, params).fetchall()]


class _translate:
    """Turn sqlite3 errors into one-line typed errors naming the database file."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(exc_type, sqlite3.Error):
            raise ReviewStoreError(f"review database error: {exc}", path=self.path) from exc
        return False

