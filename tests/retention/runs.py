"""Recorded runs for retention and cost tests, written through the same store calls the
runtime makes (create_run, create_tasks, start/finish_attempt, set_attempt_logs), so the
client reads them exactly as it reads a flow's runs, without a subprocess per run."""

from __future__ import annotations

import time
from typing import Any

from flowlib.metadata.records import FAILED, RUNNING, SUCCEEDED, TaskRecord
from flowlib.stores import Stores


def record_run(
    stores: Stores, flow: str, values: dict[str, Any], *, status: str = SUCCEEDED,
    tags: list[str] | None = None, system_tags: list[str] | None = None,
    stdout: str | None = None, finish_run: bool = True,
) -> str:
    """One run with one task (step 'end') holding ``values`` as artifacts; returns its id."""
    meta = stores.metadata
    run = meta.create_run(flow, "tester", ["user:tester", *(system_tags or [])], tags or [])
    now = time.time()
    meta.create_tasks([TaskRecord(flow, run.run_id, "end", "1", "pending", now)])
    meta.start_attempt(flow, run.run_id, "end", "1", 0)
    artifacts = stores.artifacts(flow)
    refs = {name: artifacts.save(name, value, f"{flow}/{run.run_id}/end/1")
            for name, value in values.items()}
    task_status = FAILED if status == FAILED else SUCCEEDED
    meta.finish_attempt(flow, run.run_id, "end", "1", 0, task_status, refs,
                        {"next": []} if task_status == SUCCEEDED else None, None)
    if stdout is not None:
        meta.set_attempt_logs(flow, run.run_id, "end", "1", 0,
                              {"stdout": artifacts.put_bytes(stdout.encode())})
    if finish_run and status != RUNNING:
        meta.update_run(flow, run.run_id, status, time.time())
    return run.run_id
