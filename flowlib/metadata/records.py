"""Plain records exchanged between metadata stores, the runtime and the client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RUNNING, SUCCEEDED, FAILED, INTERRUPTED, PENDING = (
    "running",
    "succeeded",
    "failed",
    "interrupted",
    "pending",
)
# Retention states of a run (``RunRecord.retention``): gc marks a run REMOVING before it
# deletes anything, and REMOVED once its blobs and task metadata are gone.
REMOVING, REMOVED = "removing", "removed"


@dataclass
class RunRecord:
    flow: str
    run_id: str
    user: str
    status: str
    created: float
    finished: float | None = None
    heartbeat: float | None = None
    system_tags: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    origin_run_id: str | None = None
    retention: str | None = None  # None, REMOVING or REMOVED (flowlib.retention)
    removed_at: float | None = None  # when gc marked the run


@dataclass
class TaskRecord:
    flow: str
    run_id: str
    step: str
    task_id: str
    status: str
    created: float
    foreach_stack: list[dict[str, Any]] = field(default_factory=list)
    input_paths: list[str] = field(default_factory=list)
    attempts: int = 0
    finished: float | None = None
    origin: str | None = None
    transition: dict[str, Any] | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"


@dataclass
class AttemptRecord:
    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    status: str
    started: float
    finished: float | None = None
    error: dict[str, Any] | None = None
    logs: dict[str, str] = field(default_factory=dict)
