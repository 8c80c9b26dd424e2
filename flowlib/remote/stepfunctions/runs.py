"""The runs of a deployment as ``step-functions list-runs`` shows them: each execution, the
flowlib run it carries, the run's status as every reader derives it
(``flowlib.metadata.liveness.run_liveness``, so ``list-runs``, ``status``, the client and gc
agree) and what started it (a person, the schedule, an event, another flow's run, a resume).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from flowlib.metadata.liveness import run_liveness
from flowlib.metadata.records import RunRecord
from flowlib.remote.stepfunctions.entry import EXECUTION_TAG
from flowlib.stores import Stores


@dataclass
class RunRow:
    execution: str
    status: str  # the execution's: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    started: str
    run: str | None  # Flow/run_id; None until the start task of a scheduled run allocates it
    run_status: str | None  # the run's status as every reader shows it (crashed: see reason)
    reason: str | None
    started_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def started_by(record: RunRecord) -> str:
    """What started a deployed run, from its system tags: ``manual (alice)``, ``schedule``,
    ``event data_ready``, ``run OtherFlow/12`` (``@trigger_on_finish``), ``resume of F/3``."""
    tags = dict(t.split(":", 1) for t in record.system_tags if ":" in t)
    kind = tags.get("trigger", "")
    if kind == "manual":
        return f"manual ({record.user})"
    if kind == "resume":
        return f"resume of {record.flow}/{record.origin_run_id}" if record.origin_run_id \
            else "resume"
    if kind == "event":
        return f"event {tags.get('trigger_event', '?')}"
    if kind == "run":
        return f"run {tags.get('trigger_run') or tags.get('trigger_event', '?')}"
    return kind or "unknown"


def deployment_runs(stores: Stores, flow: str, executions: list[dict[str, Any]]
                    ) -> list[RunRow]:
    rows = []
    for execution in executions:
        record = next(iter(stores.metadata.list_runs(
            flow, tags=[EXECUTION_TAG + execution["name"]], limit=1)), None)
        live = run_liveness(record) if record is not None else None
        rows.append(RunRow(
            execution=execution["name"], status=execution["status"],
            started=str(execution.get("startDate", "")),
            run=f"{flow}/{record.run_id}" if record is not None else None,
            run_status=str(live.status) if live is not None else None,
            reason=live.reason if live is not None else None,
            started_by=started_by(record) if record is not None else None))
    return rows
