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
