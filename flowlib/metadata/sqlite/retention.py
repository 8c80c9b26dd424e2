"""What retention (gc) and cost read and write in the SQLite metadata store: a run's blob keys,
removal marks, and the resources each attempt used."""

from __future__ import annotations

import json
from typing import Any

from flowlib.metadata.records import (
    REMOVED,
    REMOVING,
    RUNNING,
)
from flowlib.metadata.sqlite.database import SqliteDatabase
from flowlib.metadata.sqlite.errors import translate_errors


@translate_errors
class SqliteRetention(SqliteDatabase):
    """Retention and cost methods of :class:`~flowlib.metadata.base.MetadataStore` on SQLite."""

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
        self, flow: str, run_id: str, when: float, protect_tags: list[str]
    ) -> bool:
        number = int(run_id)
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                "SELECT r.status, m.state FROM runs r LEFT JOIN run_retention m "
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
            if row[0] == RUNNING or protected:
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
