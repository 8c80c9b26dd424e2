"""Plain records exchanged between metadata stores, the runtime and the client."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypedDict


class Status(str, Enum):
    """Status of a run, a task or an attempt.

    A ``str`` subclass: members compare equal to the strings stored before the enum existed
    (``Status.SUCCEEDED == "succeeded"``), serialize to those strings (JSON, SQLite, DynamoDB)
    and print as them.
    """

    PENDING = "pending"  # task registered, not started (the client does not list it)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # run only: stopped by Ctrl-C / SIGTERM, resumable
    # Never stored: what readers show for a "running" run or attempt whose heartbeat went stale
    # (flowlib/metadata/liveness.py).
    CRASHED = "crashed"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def parse(cls, value: str) -> Status | str:
        """The member for a stored value; an unknown value (written by a newer flowlib) is
        returned unchanged rather than refused."""
        try:
            return cls(value)
        except ValueError:
            return value


PENDING = Status.PENDING
RUNNING = Status.RUNNING
SUCCEEDED = Status.SUCCEEDED
FAILED = Status.FAILED
INTERRUPTED = Status.INTERRUPTED


class ErrorRecord(TypedDict):
    """Why an attempt failed, as stored with it: the exception's type name (or a crash kind:
    ``Crash``, ``Timeout``, ``Infrastructure``, ``Interrupted``), its message, and the user's
    traceback (empty for failures seen from outside the task)."""

    type: str
    message: str
    traceback: str


class StepException:
    """The exception of a failed step as @catch stores it (Metaflow: MetaflowExceptionWrapper)."""

    def __init__(self, exception_type: str, message: str, stacktrace: str) -> None:
        self.type = exception_type
        self.exception = message
        self.stacktrace = stacktrace

    @classmethod
    def from_record(cls, record: ErrorRecord | dict[str, Any]) -> StepException:
        return cls(
            record.get("type", "Exception"), record.get("message", ""), record.get("traceback", "")
        )

    def __str__(self) -> str:
        return f"{self.type}: {self.exception}"

    def __repr__(self) -> str:
        return f"StepException({self.type}: {self.exception!r})"

# System tag recording where a run's artifacts and logs are stored ("datastore:s3://b/prefix").
DATASTORE_TAG = "datastore:"

# Retention states of a run (``RunRecord.retention``): gc marks a run REMOVING before it
# deletes anything, and REMOVED once its blobs and task metadata are gone.
REMOVING, REMOVED = "removing", "removed"


@dataclass
class RunRecord:
    flow: str
    run_id: str
    user: str
    status: Status | str
    created: float
    finished: float | None = None
    heartbeat: float | None = None
    system_tags: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    origin_run_id: str | None = None
    retention: str | None = None  # None, REMOVING or REMOVED (flowlib.retention)
    removed_at: float | None = None  # when gc marked the run

    def __post_init__(self) -> None:
        self.status = Status.parse(self.status)


@dataclass
class TaskRecord:
    flow: str
    run_id: str
    step: str
    task_id: str
    status: Status | str
    created: float
    foreach_stack: list[dict[str, Any]] = field(default_factory=list)
    input_paths: list[str] = field(default_factory=list)
    attempts: int = 0
    finished: float | None = None
    origin: str | None = None
    transition: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.status = Status.parse(self.status)

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
    status: Status | str
    started: float
    finished: float | None = None
    error: ErrorRecord | None = None
    logs: dict[str, str] = field(default_factory=dict)
    heartbeat: float | None = None  # last sign of life of the task process (running attempts)

    def __post_init__(self) -> None:
        self.status = Status.parse(self.status)


@dataclass
class CardRecord:
    """A card of a task attempt: its HTML is the blob ``key`` in the flow's blob store.

    ``index`` is the position of the @card decorator on the step (so two unnamed cards stay
    apart); ``card_id`` is the user's ``id=`` (None for an unnamed card). Saving a card again
    (``current.card.refresh()``) replaces the record, never the blob of an earlier version.
    """

    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    index: int
    type: str
    key: str
    updated: float
    card_id: str | None = None


@dataclass
class RunFilter:
    """What a page of runs is filtered on (every given condition must hold).

    ``user`` matches the run's user; ``status`` its status; ``created_after`` and
    ``created_before`` are epoch seconds; ``tags`` must all be on the run (system or user tags).
    """

    tags: list[str] = field(default_factory=list)
    user: str | None = None
    status: str | None = None
    created_after: float | None = None
    created_before: float | None = None

    def matches(self, run: RunRecord) -> bool:
        have = set(run.system_tags) | set(run.tags)
        return (
            all(t in have for t in self.tags)
            and (self.user is None or run.user == self.user)
            and (self.status is None or run.status == self.status)
            and (self.created_after is None or run.created >= self.created_after)
            and (self.created_before is None or run.created < self.created_before)
        )


@dataclass
class RunPage:
    """One page of runs, newest first. ``next_before`` is the run id to pass as ``before`` for
    the next page (None: no more runs). A page may hold fewer runs than asked for when the
    store examined its bound of runs without filling it; ``next_before`` then still says
    where to go on."""

    runs: list[RunRecord]
    next_before: str | None
