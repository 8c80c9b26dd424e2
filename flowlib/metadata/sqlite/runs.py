"""Runs in the SQLite metadata store: run numbers, status, heartbeats, tags and run listings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from flowlib.metadata.records import (
    RUNNING,
    RunFilter,
    RunPage,
    RunRecord,
)
from flowlib.metadata.sqlite.database import SqliteDatabase, run_number
from flowlib.metadata.sqlite.errors import translate_errors

# A page of runs examines at most this many runs of the flow (the filter's cost bound).
_PAGE_SCAN = 5000


@translate_errors
class SqliteRuns(SqliteDatabase):
    """The run half of :class:`~flowlib.metadata.base.MetadataStore` on SQLite."""

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
        number = run_number(run_id)
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
