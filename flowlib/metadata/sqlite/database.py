"""The SQLite database behind the local metadata store: its schema, connections and
transactions. The store's methods are in ``runs.py``, ``tasks.py`` and ``retention.py``."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flowlib.exceptions import MetadataError
from flowlib.metadata.base import (
    RunNotFoundError,
)
from flowlib.metadata.run_ids import RunIdMarks
from flowlib.metadata.sqlite.errors import database_error

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs(
  flow TEXT NOT NULL, run_number INTEGER NOT NULL, user TEXT NOT NULL, status TEXT NOT NULL,
  created REAL NOT NULL, finished REAL, heartbeat REAL, origin_run_id TEXT,
  PRIMARY KEY(flow, run_number)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_tags(
  flow TEXT NOT NULL, run_number INTEGER NOT NULL, tag TEXT NOT NULL, system INTEGER NOT NULL,
  PRIMARY KEY(flow, run_number, tag)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS run_tags_by_tag ON run_tags(flow, tag, run_number);
CREATE TABLE IF NOT EXISTS tasks(
  flow TEXT NOT NULL, run_number INTEGER NOT NULL, step TEXT NOT NULL, task_id TEXT NOT NULL,
  status TEXT NOT NULL, created REAL NOT NULL, finished REAL, foreach_stack TEXT NOT NULL,
  input_paths TEXT NOT NULL, attempts INTEGER NOT NULL, origin TEXT, transition TEXT,
  PRIMARY KEY(flow, run_number, step, task_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attempts(
  flow TEXT NOT NULL, run_number INTEGER NOT NULL, step TEXT NOT NULL, task_id TEXT NOT NULL,
  attempt INTEGER NOT NULL, status TEXT NOT NULL, started REAL NOT NULL, finished REAL,
  error TEXT, logs TEXT,
  PRIMARY KEY(flow, run_number, step, task_id, attempt)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS artifacts(
  flow TEXT NOT NULL, run_number INTEGER NOT NULL, step TEXT NOT NULL, task_id TEXT NOT NULL,
  attempt INTEGER NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL,
  type TEXT NOT NULL, encoding TEXT NOT NULL,
  PRIMARY KEY(flow, run_number, step, task_id, attempt, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cards(
  flow TEXT NOT NULL, run_number INTEGER NOT NULL, step TEXT NOT NULL, task_id TEXT NOT NULL,
  attempt INTEGER NOT NULL, idx INTEGER NOT NULL, card_id TEXT, type TEXT NOT NULL,
  key TEXT NOT NULL, updated REAL NOT NULL,
  PRIMARY KEY(flow, run_number, step, task_id, attempt, idx)) WITHOUT ROWID;
"""

# Probed to decide whether SCHEMA must run: the table added last (databases made before it
# existed get it on their next open; every statement of SCHEMA is IF NOT EXISTS).
_LAST_TABLE = "cards"

# Kept apart from ``attempts`` so the heartbeat thread's frequent small writes touch no row the
# task's own writes do.
HEARTBEATS = """
CREATE TABLE IF NOT EXISTS attempt_heartbeats(
  flow TEXT NOT NULL, run_number INTEGER NOT NULL, step TEXT NOT NULL, task_id TEXT NOT NULL,
  attempt INTEGER NOT NULL, heartbeat REAL NOT NULL,
  PRIMARY KEY(flow, run_number, step, task_id, attempt)) WITHOUT ROWID
"""

# Retention marks and attempt resources (cost) live in tables of their own, created on open, so
# databases written before they existed need no migration.
RETENTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_retention(
  flow TEXT NOT NULL, run_number INTEGER NOT NULL, state TEXT NOT NULL, at REAL NOT NULL,
  PRIMARY KEY(flow, run_number)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attempt_resources(
  flow TEXT NOT NULL, run_number INTEGER NOT NULL, step TEXT NOT NULL, task_id TEXT NOT NULL,
  attempt INTEGER NOT NULL, resources TEXT NOT NULL,
  PRIMARY KEY(flow, run_number, step, task_id, attempt)) WITHOUT ROWID;
"""



class SqliteDatabase:
    """The SQLite file as the metadata store uses it: schema, per-process and per-thread
    connections, short transactions and run-number lookups."""


    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        # Threads other than the one that opened ``_conn`` (the web UI's worker threads) get a
        # connection each: an sqlite3 connection belongs to the thread that made it.
        self._thread = -1
        self._others: dict[int, sqlite3.Connection] = {}
        self._run_ids = RunIdMarks(self.path.with_name(self.path.name + ".run-ids"))

    # -- connection ------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        # A connection must never cross a fork: each process opens its own.
        if self._conn is None or self._pid != os.getpid():
            self._conn = self._connect()
            self._pid = os.getpid()
            self._thread = threading.get_ident()
            self._others = {}
        if threading.get_ident() != self._thread:
            conn = self._others.get(threading.get_ident())
            if conn is None:
                conn = self._others[threading.get_ident()] = self._connect()
            return conn
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False only so close() may run on any thread: each thread still
            # uses a connection of its own (see ``db``).
            conn = sqlite3.connect(
                self.path, timeout=60, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout=60000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            probe = "SELECT 1 FROM sqlite_master WHERE name=?"
            if not conn.execute(probe, (_LAST_TABLE,)).fetchone():
                conn.executescript(SCHEMA)
            if not conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name='attempt_heartbeats'"
            ).fetchone():
                conn.execute(HEARTBEATS)  # databases made before attempt heartbeats existed
            conn.executescript(RETENTION_SCHEMA)
        except sqlite3.Error as exc:
            if not isinstance(exc, sqlite3.OperationalError) or "full" in str(exc):
                raise database_error(self.path, exc) from None
            raise MetadataError(
                f"Cannot open the metadata database {self.path}: {exc}. Check that the folder "
                "is writable, or set FLOWLIB_DATASTORE_ROOT to another folder."
            ) from None
        except OSError as exc:
            raise MetadataError(
                f"Cannot open the metadata database {self.path}: {exc}. Check that the folder "
                "is writable, or set FLOWLIB_DATASTORE_ROOT to another folder."
            ) from None
        return conn

    def close(self) -> None:
        if self._pid == os.getpid():
            for conn in [self._conn, *self._others.values()]:
                if conn is not None:
                    conn.close()
        self._conn = None
        self._others = {}

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed if the block returns, rolled back if it raises."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise

    def _write(self, statements: list[tuple[str, Any]]) -> None:
        with self._transaction() as db:
            for sql, params in statements:
                if isinstance(params, list):
                    db.executemany(sql, params)
                else:
                    db.execute(sql, params)

    def _run_number(self, flow: str, run_id: str) -> int:
        """The run number of an existing run (call inside a transaction); RunNotFoundError."""
        number = run_number(run_id)
        if number is None or not self.db.execute(
            "SELECT 1 FROM runs WHERE flow=? AND run_number=?", (flow, number)
        ).fetchone():
            raise RunNotFoundError(f"Run {flow}/{run_id} does not exist in {self.path}.")
        return number



def _rollback(db: sqlite3.Connection) -> None:
    # SQLite rolls a transaction back by itself on some errors (SQLITE_FULL, SQLITE_IOERR);
    # a second ROLLBACK would then raise "cannot rollback - no transaction is active" and
    # hide the real error.
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def run_number(run_id: Any) -> int | None:
    """The run number of ``run_id``, or None when no run can have it (not a number, or beyond
    SQLite's 64-bit integers, which would raise OverflowError inside the query)."""
    try:
        number = int(run_id)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 1 << 63 else None




