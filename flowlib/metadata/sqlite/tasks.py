"""Tasks, attempts, artifacts and cards in the SQLite metadata store."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from flowlib.datastore.artifacts import ArtifactRef
from flowlib.metadata.base import (
    AttemptAlreadyStartedError,
    AttemptNotStartedError,
    TaskExistsError,
    TaskNotRegisteredError,
    task_id_order,
    task_path,
)
from flowlib.metadata.records import (
    PENDING,
    RUNNING,
    SUCCEEDED,
    AttemptRecord,
    CardRecord,
    TaskRecord,
)
from flowlib.metadata.sqlite.database import SqliteDatabase, run_number
from flowlib.metadata.sqlite.errors import translate_errors

_TASK_KEY = "flow=? AND run_number=? AND step=? AND task_id=?"


@translate_errors
class SqliteTasks(SqliteDatabase):
    """The task half of :class:`~flowlib.metadata.base.MetadataStore` on SQLite."""

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
        number = run_number(run_id)
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
        number = run_number(run_id)
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
                (json.dumps(logs), flow, run_number(run_id), step, task_id, attempt),
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
        number = run_number(run_id)
        if number is None:
            return None
        row = self.db.execute(
            f"SELECT * FROM tasks WHERE {_TASK_KEY}", (flow, number, step, str(task_id))
        ).fetchone()
        return self._task_from_row(row) if row else None

    def list_tasks(self, flow: str, run_id: str, step: str | None = None) -> list[TaskRecord]:
        sql = "SELECT * FROM tasks WHERE flow=? AND run_number=?"
        params: list[Any] = [flow, run_number(run_id)]
        if step is not None:
            sql += " AND step=?"
            params.append(step)
        rows = [self._task_from_row(r) for r in self.db.execute(sql, params)]
        rows.sort(key=lambda t: (t.created, task_id_order(t.task_id)))
        return rows

    def list_attempts(self, flow: str, run_id: str, step: str, task_id: str) -> list[AttemptRecord]:
        key = (flow, run_number(run_id), step, str(task_id))
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
        key = (flow, run_number(run_id), step, str(task_id))
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
