"""The metadata store interface: every backend (SQLite, DynamoDB) implements it.

Ids are strings. Runs of a flow are numbered 1, 2, 3... by the store, which guarantees that
concurrent runs never share an id. Task ids are allocated by the run's scheduler. A run id that
is not a run number (``"latest"``, ``"x"``) names no run: reads return None or empty, they do
not raise.

Statuses are ``Status`` members (``records.py``; a ``str`` enum, so they compare equal to the
stored strings). Errors a caller can cause are the ``MetadataError`` subclasses below, raised
the same way by every backend; a store that cannot be reached raises the backend's
``MetadataError`` (or a more precise ``FlowlibError`` such as missing credentials) with a
message saying what to fix. Nothing already stored is changed by a call that raises.

The same contract test suite runs against every backend: ``tests/contracts/test_metadata.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from flowlib.datastore.artifacts import ArtifactRef
from flowlib.exceptions import MetadataError
from flowlib.metadata.records import (
    AttemptRecord,
    CardRecord,
    ErrorRecord,
    RunFilter,
    RunPage,
    RunRecord,
    Status,
    TaskRecord,
)


class RunNotFoundError(MetadataError):
    """The run to change does not exist."""


class TaskNotRegisteredError(MetadataError):
    """An attempt was started for a task that ``create_tasks`` never registered."""


class TaskExistsError(MetadataError):
    """A task id of the run is already taken (registered twice, or cloned onto)."""


class AttemptAlreadyStartedError(MetadataError):
    """The attempt was already recorded: each attempt runs once."""


class AttemptNotStartedError(MetadataError):
    """The attempt to finish or to attach logs to was never started."""


def task_path(flow: str, run_id: str, step: str, task_id: str) -> str:
    return f"{flow}/{run_id}/{step}/{task_id}"


class MetadataStore(ABC):
    # -- runs ------------------------------------------------------------------------------
    @abstractmethod
    def create_run(
        self,
        flow: str,
        user: str,
        system_tags: list[str],
        tags: list[str],
        origin_run_id: str | None = None,
    ) -> RunRecord:
        """Allocate the flow's next run number and record the run as ``RUNNING``.

        Concurrent callers always get distinct ids, never one that was used before. Tags are
        deduplicated; a user tag that is also a system tag is kept once, as a system tag. The
        returned record equals what ``get_run`` returns afterwards (tags sorted).
        """

    @abstractmethod
    def update_run(
        self, flow: str, run_id: str, status: Status | str, finished: float | None
    ) -> None:
        """Set the run's status and finish time (None: not finished).
        Raises RunNotFoundError."""

    @abstractmethod
    def heartbeat(self, flow: str, run_id: str) -> None:
        """Record that the run's runtime is alive now. Raises RunNotFoundError."""

    @abstractmethod
    def add_tags(self, flow: str, run_id: str, tags: list[str]) -> None:
        """Add user tags (existing and system tags are left as they are).
        Raises RunNotFoundError."""

    @abstractmethod
    def remove_tags(self, flow: str, run_id: str, tags: list[str]) -> None:
        """Remove user tags; system tags and absent tags are ignored.
        Raises RunNotFoundError."""

    @abstractmethod
    def get_run(self, flow: str, run_id: str) -> RunRecord | None:
        """The run, or None."""

    @abstractmethod
    def list_runs(
        self, flow: str, tags: list[str] | None = None, limit: int | None = None
    ) -> Iterator[RunRecord]:
        """Runs of ``flow`` having every tag in ``tags`` (user or system), newest first, at
        most ``limit``. Reading stops when the caller stops iterating."""

    @abstractmethod
    def list_flows(self) -> list[str]:
        """Names of the flows that have at least one run, sorted."""

    # -- tasks -----------------------------------------------------------------------------
    @abstractmethod
    def create_tasks(self, tasks: list[TaskRecord]) -> None:
        """Register tasks of a run as ``PENDING`` before they are launched (one write for a
        whole foreach where the backend allows). A task id registered twice raises
        TaskExistsError where the backend can check it cheaply (SQLite); DynamoDB's batch
        writes cannot be conditional, so there the scheduler's unique ids are the guarantee."""

    @abstractmethod
    def start_attempt(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        attempt: int,
        restart: bool = False,
    ) -> None:
        """Record that an attempt started (``RUNNING``) and mark its task ``RUNNING``.

        Raises TaskNotRegisteredError if ``create_tasks`` never registered the task, and
        AttemptAlreadyStartedError if this attempt was recorded before. ``restart`` allows
        starting again an attempt that is still recorded as running: the compute backend
        re-ran it after losing its host (e.g. a spot interruption), which must not count as
        one of the user's @retry attempts; a finished attempt still cannot restart.
        """

    @abstractmethod
    def finish_attempt(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        attempt: int,
        status: Status | str,
        artifacts: dict[str, ArtifactRef],
        transition: dict[str, Any] | None,
        error: ErrorRecord | dict[str, Any] | None,
    ) -> None:
        """Record an attempt's outcome and its task's: status, finish time, the error of a
        failure, and on success the artifacts and the transition (what ``self.next`` chose).

        Atomic for readers: the artifacts are stored before the task reads as ``SUCCEEDED``,
        so a failed write never leaves a task marked done without them. Raises
        AttemptNotStartedError if the attempt was never started.
        """

    @abstractmethod
    def attempt_heartbeat(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int
    ) -> None:
        """Record that the attempt's process is alive (now). Called from a background thread
        of the task process every few seconds while the step runs; readers show an attempt
        still "running" whose heartbeats stopped as crashed (see ``liveness``)."""

    @abstractmethod
    def set_attempt_logs(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int, logs: dict[str, str]
    ) -> None:
        """Attach the blob keys of an attempt's stdout/stderr (``{"stdout": key, ...}``),
        replacing earlier ones. Raises AttemptNotStartedError."""

    @abstractmethod
    def clone_task(
        self,
        source: TaskRecord,
        run_id: str,
        task_id: str,
        input_paths: list[str],
        foreach_stack: list[dict[str, Any]],
    ) -> None:
        """Record a task of ``run_id`` (same flow and step) that reuses ``source``'s successful
        outcome: its successful attempt (number, times, logs), artifacts and transition, with
        ``origin`` = the source's pathspec. Raises TaskExistsError if the id is taken."""

    @abstractmethod
    def get_task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRecord | None:
        """The task, or None."""

    @abstractmethod
    def list_tasks(self, flow: str, run_id: str, step: str | None = None) -> list[TaskRecord]:
        """Tasks of the run (of one step), oldest first, ties by numeric task id."""

    @abstractmethod
    def list_attempts(
        self, flow: str, run_id: str, step: str, task_id: str
    ) -> list[AttemptRecord]:
        """Attempts of the task, by attempt number (empty for an unknown task)."""

    @abstractmethod
    def get_artifacts(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int | None = None
    ) -> dict[str, ArtifactRef]:
        """Artifacts of an attempt (default: the successful one, else the latest); empty for
        an unknown task or attempt."""

    # What a join reads of its inputs: a foreach of 1,000 is 1,000 tasks, so a store with a
    # network round trip per call overrides these two to batch or overlap the reads. The
    # results are exactly those of the one-at-a-time calls, in the order asked.
    def get_tasks(self, flow: str, run_id: str, keys: list[tuple[str, str]]
                  ) -> list[TaskRecord | None]:
        """``get_task`` of each ``(step, task_id)``, in order (None where there is none)."""
        return [self.get_task(flow, run_id, step, task_id) for step, task_id in keys]

    def get_tasks_artifacts(self, flow: str, run_id: str, keys: list[tuple[str, str]]
                            ) -> list[dict[str, ArtifactRef]]:
        """``get_artifacts`` (default attempt) of each ``(step, task_id)``, in order."""
        return [self.get_artifacts(flow, run_id, step, task_id) for step, task_id in keys]

    # -- pages and cards (the web UI's queries) -----------------------------------------------
    @abstractmethod
    def list_runs_page(
        self,
        flow: str,
        filter: RunFilter | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> RunPage:
        """Runs of ``flow`` matching ``filter`` with a run id below ``before``, newest first.

        The cost of a page is bounded whatever the number of runs stored: a store examines a
        bounded number of runs per call and returns a shorter page (with ``next_before``) rather
        than reading a whole flow's history to fill it.
        """

    @abstractmethod
    def put_card(self, card: CardRecord) -> None:
        """Record (or replace) the card of ``card.index`` of a task attempt."""

    @abstractmethod
    def list_cards(self, flow: str, run_id: str, step: str, task_id: str) -> list[CardRecord]:
        """Cards of every attempt of a task, ordered by attempt then index."""

    def preflight(self) -> None:  # noqa: B027 - a local store has nothing to check
        """Check that the store is reachable and usable before a run writes anything, so a
        misconfiguration fails with one clear message and leaves nothing behind. The blob
        store has its own (``BlobStore.preflight``); ``Stores.preflight`` runs both."""

    def close(self) -> None:  # noqa: B027 - optional hook; stateless stores need nothing
        """Release connections (before fork, at exit)."""

    # -- retention (flowlib.retention) -----------------------------------------------------
    def run_blob_keys(self, flow: str, run_id: str) -> set[str]:
        """Every blob key the run references: artifacts of every attempt, logs, and the code
        package named in recorded attempt resources (``code_package``)."""
        raise NotImplementedError(f"{type(self).__name__} does not support retention")

    def mark_run_removing(
        self, flow: str, run_id: str, when: float, protect_tags: list[str],
        crashed_before: float | None = None,
    ) -> bool:
        """Atomically mark a finished run as being removed by retention, unless it is running,
        carries one of ``protect_tags`` (pinned meanwhile) or is already removed. True if the
        run is now marked (also when an earlier, interrupted gc had marked it). A run still
        recorded as running is marked only if its last sign of life (heartbeat, else creation)
        is older than ``crashed_before`` (its runtime died: ``retention.policy``), checked in
        the same atomic step, so a heartbeat that got through meanwhile spares it."""
        raise NotImplementedError(f"{type(self).__name__} does not support retention")

    def finish_run_removal(self, flow: str, run_id: str) -> None:
        """Delete a marked run's tasks, attempts and artifact records, and mark it REMOVED (its
        run record and tags stay, so the client can say when it was removed; tag queries may
        or may not list it, callers skip runs whose ``retention`` is set). Idempotent."""
        raise NotImplementedError(f"{type(self).__name__} does not support retention")

    # -- cost (flowlib.cost) ------------------------------------------------------------------
    def set_attempt_resources(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int,
        resources: dict[str, Any],
    ) -> None:
        """Record what an attempt ran on (cpu, memory MiB, gpu, compute, instance type)."""
        raise NotImplementedError(f"{type(self).__name__} does not record resources")

    def run_attempt_resources(self, flow: str, run_id: str) -> dict[tuple[str, str, int], dict]:
        """Recorded resources of every attempt of a run, by (step, task id, attempt)."""
        raise NotImplementedError(f"{type(self).__name__} does not record resources")


def task_id_order(task_id: str) -> tuple[int, str]:
    """Sort key listing a step's tasks in creation order: numeric ids by value, others after."""
    return (int(task_id), "") if task_id.isdigit() else (1 << 62, task_id)
