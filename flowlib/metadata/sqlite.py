"""Metadata in an embedded SQLite database (the zero-setup local default).

WAL mode lets readers (the client, ``logs``, other runs) work while tasks write; every write is
one short transaction. Run numbers are allocated inside ``BEGIN IMMEDIATE`` so concurrent runs of
one flow get distinct ids. ``synchronous=NORMAL`` keeps commits durable across process crashes
(which is what a killed runtime is) without an fsync per task.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flowlib.datastore.artifacts import ArtifactRef
from flowlib.exceptions import MetadataError
from flowlib.metadata.base import (
    AttemptAlreadyStartedError,
    AttemptNotStartedError,
    MetadataStore,
    RunNotFoundError,
    TaskExistsError,
    TaskNotRegisteredError,
    task_path,
)
from flowlib.metadata.records import (
    PENDING,
    REMOVED,
    REMOVING,
    RUNNING,
    SUCCEEDED,
    AttemptRecord,
    CardRecord,
    RunFilter,
    RunPage,
    RunRecord,
    TaskRecord,
)
from flowlib.metadata.run_ids import RunIdMarks
from flowlib.metadata.sqlite_errors import database_error, translate_errors

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

# A page of runs examines at most this many runs of the flow (the filter's cost bound).
_PAGE_SCAN = 5000
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

_TASK_KEY = "flow=? AND run_number=? AND step=? AND task_id=?"


class SqliteMetadataStore(MetadataStore):
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
        number = _number(run_id)
        if number is None or not self.db.execute(
            "SELECT 1 FROM runs WHERE flow=? AND run_number=?", (flow, number)
        ).fetchone():
            raise RunNotFoundError(f"Run {flow}/{run_id} does not exist in {self.path}.")
        return number

    # -- runs ------------------------------------------------------------------------------
    def create_run(
        self,
        flow: str,
        user: str,
        system_tags: list[str],
        tags: list[str],
        origin_run_id: str | None = None,
    ) -> RunRecord:
        system_tags = list(dict.fromkeys(system_tags))
        tags = [t for t in dict.fromkeys(tags) if t not in system_tags]
        now = time.time()
        with self._transaction() as db:
            (last,) = db.execute(
                "SELECT COALESCE(MAX(run_number), 0) FROM runs WHERE flow=?", (flow,)
            ).fetchone()
            # The database alone may have forgotten runs (a lost or damaged WAL file takes its
            # last commits with it): the durable high-water mark keeps their ids from coming
            # back, since a run's logs, artifacts references and users' notes name it.
            number = max(last, self._run_ids.last(flow)) + 1
            self._run_ids.record(flow, number)
            db.execute(
                "INSERT INTO runs VALUES(?,?,?,?,?,NULL,?,?)",
                (flow, number, user, RUNNING, now, now, origin_run_id),
            )
            db.executemany(
                "INSERT INTO run_tags VALUES(?,?,?,?)",
                [(flow, number, t, 1) for t in system_tags] + [(flow, number, t, 0) for t in tags],
            )
        return RunRecord(
            flow, str(number), user, RUNNING, now, None, now, sorted(system_tags), sorted(tags),
            origin_run_id,
        )

    def update_run(
        self, flow: str, run_id: str, status: str, finished: float | None
    ) -> None:
        with self._transaction() as db:
            number = self._run_number(flow, run_id)
            db.execute(
                "UPDATE runs SET status=?, finished=? WHERE flow=? AND run_number=?",
                (str(status), finished, flow, number),
            )

    def heartbeat(self, flow: str, run_id: str) -> None:
        with self._transaction() as db:
            number = self._run_number(flow, run_id)
            db.execute(
                "UPDATE runs SET heartbeat=? WHERE flow=? AND run_number=?",
                (time.time(), flow, number),
            )

    def add_tags(self, flow: str, run_id: str, tags: list[str]) -> None:
        with self._transaction() as db:
            number = self._run_number(flow, run_id)
            db.executemany(
                "INSERT OR IGNORE INTO run_tags VALUES(?,?,?,0)", [(flow, number, t) for t in tags]
            )

    def remove_tags(self, flow: str, run_id: str, tags: list[str]) -> None:
        with self._transaction() as db:
            number = self._run_number(flow, run_id)
            db.executemany(
                "DELETE FROM run_tags WHERE flow=? AND run_number=? AND tag=? AND system=0",
                [(flow, number, t) for t in tags],
            )

    def _run_from_row(self, row: tuple) -> RunRecord:
        flow, number, user, status, created, finished, heartbeat, origin = row
        system, tags = [], []
        for tag, is_system in self.db.execute(
            "SELECT tag, system FROM run_tags WHERE flow=? AND run_number=? ORDER BY tag",
            (flow, number),
        ):
            (system if is_system else tags).append(tag)
        mark = self.db.execute(
            "SELECT state, at FROM run_retention WHERE flow=? AND run_number=?", (flow, number)
        ).fetchone()
        return RunRecord(
            flow, str(number), user, status, created, finished, heartbeat, system, tags, origin,
            mark[0] if mark else None, mark[1] if mark else None,
        )

    def get_run(self, flow: str, run_id: str) -> RunRecord | None:
        number = _number(run_id)
        if number is None:
            return None
        row = self.db.execute(
            "SELECT * FROM runs WHERE flow=? AND run_number=?", (flow, number)
        ).fetchone()
        return self._run_from_row(row) if row else None

    def list_runs(
        self, flow: str, tags: list[str] | None = None, limit: int | None = None
    ) -> Iterator[RunRecord]:
        sql = "SELECT * FROM runs r WHERE flow=?"
        params: list[Any] = [flow]
        for tag in tags or []:
            sql += (
                " AND EXISTS (SELECT 1 FROM run_tags t WHERE t.flow=r.flow"
                " AND t.run_number=r.run_number AND t.tag=?)"
            )
            params.append(tag)
        sql += " ORDER BY run_number DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self.db.execute(sql, params).fetchall()
        for row in rows:
            yield self._run_from_row(row)

    def list_flows(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT flow FROM runs ORDER BY flow")]

    # -- tasks -----------------------------------------------------------------------------
    def create_tasks(self, tasks: list[TaskRecord]) -> None:
        try:
            self._create_tasks(tasks)
        except sqlite3.IntegrityError:
            taken = ", ".join(t.pathspec for t in tasks if self.get_task(
                t.flow, t.run_id, t.step, t.task_id) is not None)
            raise TaskExistsError(
                f"Task(s) {taken} are already registered; a task id is used once per run."
            ) from None

    def _create_tasks(self, tasks: list[TaskRecord]) -> None:
        self._write(
            [
                (
                    "INSERT INTO tasks VALUES(?,?,?,?,?,?,NULL,?,?,0,?,NULL)",
                    [
                        (
                            t.flow,
                            int(t.run_id),
                            t.step,
                            t.task_id,
                            PENDING,
                            t.created,
                            json.dumps(t.foreach_stack),
                            json.dumps(t.input_paths),
                            t.origin,
                        )
                        for t in tasks
                    ],
                )
            ]
        )

    def start_attempt(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        attempt: int,
        restart: bool = False,
    ) -> None:
        where = task_path(flow, run_id, step, task_id)
        number = _number(run_id)
        if number is None:
            raise TaskNotRegisteredError(f"Task {where} is not registered in {self.path}.")
        key = (flow, number, step, task_id)
        insert = (
            "INSERT INTO attempts VALUES(?,?,?,?,?,?,?,NULL,NULL,NULL)"
            if not restart
            else "INSERT INTO attempts VALUES(?,?,?,?,?,?,?,NULL,NULL,NULL) "
            "ON CONFLICT DO UPDATE SET started=excluded.started WHERE status='running'"
        )
        already = AttemptAlreadyStartedError(
            f"Attempt {attempt} of {where} was already started; a task attempt runs once."
        )
        with self._transaction() as db:
            try:
                changed = db.execute(insert, (*key, attempt, RUNNING, time.time())).rowcount
            except sqlite3.IntegrityError:
                raise already from None
            if changed == 0:  # restart of an attempt that already finished
                raise already
            registered = db.execute(
                f"UPDATE tasks SET status=?, attempts=MAX(attempts, ?) WHERE {_TASK_KEY}",
                (RUNNING, attempt + 1, *key),
            ).rowcount
            if not registered:
                raise TaskNotRegisteredError(f"Task {where} is not registered in {self.path}.")

    def finish_attempt(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        attempt: int,
        status: str,
        artifacts: dict[str, ArtifactRef],
        transition: dict[str, Any] | None,
        error: dict[str, Any] | None,
    ) -> None:
        not_started = AttemptNotStartedError(
            f"Attempt {attempt} of {task_path(flow, run_id, step, task_id)} was never started."
        )
        number = _number(run_id)
        if number is None:
            raise not_started
        key = (flow, number, step, task_id)
        now = time.time()
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE attempts SET status=?, finished=?, error=? "
                f"WHERE {_TASK_KEY} AND attempt=?",
                (str(status), now, json.dumps(error) if error else None, *key, attempt),
            ).rowcount
            if not changed:
                raise not_started
            db.executemany(
                "INSERT OR REPLACE INTO artifacts VALUES(?,?,?,?,?,?,?,?,?,?)",
                [
                    (*key, attempt, name, r.key, r.size, r.type, r.encoding)
                    for name, r in artifacts.items()
                ],
            )
            db.execute(
                f"UPDATE tasks SET status=?, finished=?, transition=? WHERE {_TASK_KEY}",
                (str(status), now, json.dumps(transition) if transition else None, *key),
            )

    def attempt_heartbeat(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int
    ) -> None:
        # Called from the task's heartbeat thread: a connection of its own (a sqlite3
        # connection belongs to the thread that opened it), opened per beat (every ~10 s).
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=60000")
            conn.execute(
                "INSERT OR REPLACE INTO attempt_heartbeats VALUES(?,?,?,?,?,?)",
                (flow, int(run_id), step, str(task_id), attempt, time.time()),
            )
        finally:
            conn.close()

    def set_attempt_logs(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int, logs: dict[str, str]
    ) -> None:
        with self._transaction() as db:
            changed = db.execute(
                f"UPDATE attempts SET logs=? WHERE {_TASK_KEY} AND attempt=?",
                (json.dumps(logs), flow, _number(run_id), step, task_id, attempt),
            ).rowcount
            if not changed:
                raise AttemptNotStartedError(
                    f"Attempt {attempt} of {task_path(flow, run_id, step, task_id)} was never "
                    "started; it has no logs to attach."
                )

    def clone_task(
        self,
        source: TaskRecord,
        run_id: str,
        task_id: str,
        input_paths: list[str],
        foreach_stack: list[dict[str, Any]],
    ) -> None:
        artifacts = self.get_artifacts(source.flow, source.run_id, source.step, source.task_id)
        attempts = self.list_attempts(source.flow, source.run_id, source.step, source.task_id)
        done = next((a for a in reversed(attempts) if a.status == SUCCEEDED), None)
        attempt = done.attempt if done else 0
        key = (source.flow, int(run_id), source.step, task_id)
        now = time.time()
        try:
            self._clone(key, attempt, done, now, source, artifacts, input_paths, foreach_stack)
        except sqlite3.IntegrityError:
            raise TaskExistsError(
                f"Task {task_path(source.flow, run_id, source.step, task_id)} already exists; "
                "a clone needs a new task id."
            ) from None

    def _clone(
        self, key: tuple, attempt: int, done: AttemptRecord | None, now: float,
        source: TaskRecord, artifacts: dict[str, ArtifactRef], input_paths: list[str],
        foreach_stack: list[dict[str, Any]],
    ) -> None:
        self._write(
            [
                (
                    "INSERT INTO tasks VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        *key,
                        SUCCEEDED,
                        now,
                        now,
                        json.dumps(foreach_stack),
                        json.dumps(input_paths),
                        attempt + 1,
                        source.pathspec,
                        json.dumps(source.transition) if source.transition else None,
                    ),
                ),
                (
                    "INSERT INTO attempts VALUES(?,?,?,?,?,?,?,?,NULL,?)",
                    (
                        *key,
                        attempt,
                        SUCCEEDED,
                        done.started if done else now,
                        done.finished if done else now,
                        json.dumps(done.logs) if done else None,
                    ),
                ),
                (
                    "INSERT INTO artifacts VALUES(?,?,?,?,?,?,?,?,?,?)",
                    [
                        (*key, attempt, name, r.key, r.size, r.type, r.encoding)
                        for name, r in artifacts.items()
                    ],
                ),
            ]
        )

    def _task_from_row(self, row: tuple) -> TaskRecord:
        (
            flow,
            number,
            step,
            task_id,
            status,
            created,
            finished,
            stack,
            inputs,
            attempts,
            origin,
            transition,
        ) = row
        return TaskRecord(
            flow,
            str(number),
            step,
            task_id,
            status,
            created,
            json.loads(stack),
            json.loads(inputs),
            attempts,
            finished,
            origin,
            json.loads(transition) if transition else None,
        )

    def get_task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRecord | None:
        number = _number(run_id)
        if number is None:
            return None
        row = self.db.execute(
            f"SELECT * FROM tasks WHERE {_TASK_KEY}", (flow, number, step, str(task_id))
        ).fetchone()
        return self._task_from_row(row) if row else None

    def list_tasks(self, flow: str, run_id: str, step: str | None = None) -> list[TaskRecord]:
        sql = "SELECT * FROM tasks WHERE flow=? AND run_number=?"
        params: list[Any] = [flow, _number(run_id)]
        if step is not None:
            sql += " AND step=?"
            params.append(step)
        rows = [self._task_from_row(r) for r in self.db.execute(sql, params)]
        rows.sort(key=lambda t: (t.created, _numeric(t.task_id)))
        return rows

    def list_attempts(self, flow: str, run_id: str, step: str, task_id: str) -> list[AttemptRecord]:
        key = (flow, _number(run_id), step, str(task_id))
        rows = self.db.execute(
            f"SELECT * FROM attempts WHERE {_TASK_KEY} ORDER BY attempt", key
        ).fetchall()
        beats = dict(self.db.execute(
            f"SELECT attempt, heartbeat FROM attempt_heartbeats WHERE {_TASK_KEY}", key
        ).fetchall())
        return [
            AttemptRecord(
                f,
                str(n),
                s,
                t,
                a,
                status,
                started,
                finished,
                json.loads(error) if error else None,
                json.loads(logs) if logs else {},
                beats.get(a),
            )
            for f, n, s, t, a, status, started, finished, error, logs in rows
        ]

    def get_artifacts(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int | None = None
    ) -> dict[str, ArtifactRef]:
        key = (flow, _number(run_id), step, str(task_id))
        if attempt is None:
            row = self.db.execute(
                f"SELECT attempt FROM attempts WHERE {_TASK_KEY} "
                "ORDER BY (status='succeeded') DESC, attempt DESC LIMIT 1",
                key,
            ).fetchone()
            if row is None:
                return {}
            attempt = row[0]
        rows = self.db.execute(
            f"SELECT name, key, size, type, encoding FROM artifacts WHERE {_TASK_KEY} "
            "AND attempt=?",
            (*key, attempt),
        )
        return {name: ArtifactRef(k, size, typ, enc) for name, k, size, typ, enc in rows}


    # -- pages and cards ---------------------------------------------------------------------
    def list_runs_page(
        self,
        flow: str,
        filter: RunFilter | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> RunPage:
        # Conditions on the run row are SQL; a window of _PAGE_SCAN run numbers below
        # ``before`` bounds the work (the primary key orders runs by number), so a rare
        # filter value costs at most that window per page, never the whole history.
        filter = filter or RunFilter()
        top = int(before) if before is not None else None
        if top is None:
            (last,) = self.db.execute(
                "SELECT COALESCE(MAX(run_number), 0) FROM runs WHERE flow=?", (flow,)
            ).fetchone()
            top = last + 1
        floor = max(top - _PAGE_SCAN, 0)
        sql = "SELECT * FROM runs r WHERE flow=? AND run_number<? AND run_number>=?"
        params: list[Any] = [flow, top, floor]
        for column, value, op in (
            ("user", filter.user, "="),
            ("status", filter.status, "="),
            ("created", filter.created_after, ">="),
            ("created", filter.created_before, "<"),
        ):
            if value is not None:
                sql += f" AND {column}{op}?"
                params.append(value)
        for tag in filter.tags:
            sql += (
                " AND EXISTS (SELECT 1 FROM run_tags t WHERE t.flow=r.flow"
                " AND t.run_number=r.run_number AND t.tag=?)"
            )
            params.append(tag)
        sql += f" ORDER BY run_number DESC LIMIT {int(limit)}"
        runs = [self._run_from_row(row) for row in self.db.execute(sql, params).fetchall()]
        if len(runs) == limit:
            next_before: str | None = runs[-1].run_id
        else:
            next_before = str(floor) if floor > 0 else None
        if next_before is not None and not self.db.execute(
            "SELECT 1 FROM runs WHERE flow=? AND run_number<? LIMIT 1", (flow, int(next_before))
        ).fetchone():
            next_before = None
        return RunPage(runs, next_before)

    def put_card(self, card: CardRecord) -> None:
        self._write(
            [
                (
                    "INSERT OR REPLACE INTO cards VALUES(?,?,?,?,?,?,?,?,?,?)",
                    (
                        card.flow, int(card.run_id), card.step, str(card.task_id),
                        card.attempt, card.index, card.card_id, card.type, card.key,
                        card.updated,
                    ),
                )
            ]
        )

    def list_cards(self, flow: str, run_id: str, step: str, task_id: str) -> list[CardRecord]:
        try:
            number = int(run_id)
        except (TypeError, ValueError):
            return []
        rows = self.db.execute(
            "SELECT attempt, idx, card_id, type, key, updated FROM cards "
            f"WHERE {_TASK_KEY} ORDER BY attempt, idx",
            (flow, number, step, str(task_id)),
        ).fetchall()
        return [
            CardRecord(flow, str(number), step, str(task_id), attempt, idx, typ, key, updated,
                       card_id)
            for attempt, idx, card_id, typ, key, updated in rows
        ]

    # -- retention -------------------------------------------------------------------------
    def run_blob_keys(self, flow: str, run_id: str) -> set[str]:
        key = (flow, int(run_id))
        keys = {k for (k,) in self.db.execute(
            "SELECT DISTINCT key FROM artifacts WHERE flow=? AND run_number=?", key)}
        for (logs,) in self.db.execute(
            "SELECT logs FROM attempts WHERE flow=? AND run_number=? AND logs IS NOT NULL", key
        ):
            keys.update(json.loads(logs).values())
        for (resources,) in self.db.execute(
            "SELECT resources FROM attempt_resources WHERE flow=? AND run_number=?", key
        ):
            package = json.loads(resources).get("code_package")
            if package:
                keys.add(package)
        keys.update(k for (k,) in self.db.execute(
            "SELECT key FROM cards WHERE flow=? AND run_number=?", key))
        return keys

    def mark_run_removing(
        self, flow: str, run_id: str, when: float, protect_tags: list[str],
        crashed_before: float | None = None,
    ) -> bool:
        number = int(run_id)
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                "SELECT r.status, m.state, COALESCE(r.heartbeat, r.created) "
                "FROM runs r LEFT JOIN run_retention m "
                "ON m.flow=r.flow AND m.run_number=r.run_number "
                "WHERE r.flow=? AND r.run_number=?", (flow, number)).fetchone()
            if row is None or row[1] == REMOVED:
                db.execute("ROLLBACK")
                return False
            if row[1] == REMOVING:
                db.execute("COMMIT")
                return True
            protected = db.execute(
                "SELECT 1 FROM run_tags WHERE flow=? AND run_number=? AND tag IN "
                f"({','.join('?' * len(protect_tags)) or 'NULL'})",
                (flow, number, *protect_tags)).fetchone()
            alive = row[0] == RUNNING and (crashed_before is None or row[2] >= crashed_before)
            if alive or protected:
                db.execute("ROLLBACK")
                return False
            db.execute("INSERT INTO run_retention VALUES(?,?,?,?)",
                       (flow, number, REMOVING, when))
            db.execute("COMMIT")
            return True
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def finish_run_removal(self, flow: str, run_id: str) -> None:
        key = (flow, int(run_id))
        self._write([
            (f"DELETE FROM {table} WHERE flow=? AND run_number=?", key)
            for table in ("artifacts", "attempts", "tasks", "attempt_resources")
        ] + [("UPDATE run_retention SET state=? WHERE flow=? AND run_number=?",
              (REMOVED, *key))])

    # -- cost --------------------------------------------------------------------------------
    def set_attempt_resources(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int,
        resources: dict[str, Any],
    ) -> None:
        self._write([(
            "INSERT OR REPLACE INTO attempt_resources VALUES(?,?,?,?,?,?)",
            (flow, int(run_id), step, str(task_id), attempt, json.dumps(resources)),
        )])

    def run_attempt_resources(self, flow: str, run_id: str) -> dict[tuple[str, str, int], dict]:
        rows = self.db.execute(
            "SELECT step, task_id, attempt, resources FROM attempt_resources "
            "WHERE flow=? AND run_number=?", (flow, int(run_id)))
        return {(s, t, a): json.loads(r) for s, t, a, r in rows}


def _rollback(db: sqlite3.Connection) -> None:
    # SQLite rolls a transaction back by itself on some errors (SQLITE_FULL, SQLITE_IOERR);
    # a second ROLLBACK would then raise "cannot rollback - no transaction is active" and
    # hide the real error.
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _number(run_id: Any) -> int | None:
    """The run number of ``run_id``, or None when no run can have it (not a number, or beyond
    SQLite's 64-bit integers, which would raise OverflowError inside the query)."""
    try:
        number = int(run_id)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 1 << 63 else None


def _numeric(task_id: str) -> tuple[int, str]:
    return (int(task_id), "") if task_id.isdigit() else (1 << 62, task_id)


translate_errors(SqliteMetadataStore)
