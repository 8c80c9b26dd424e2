"""The metadata store interface: every backend (SQLite, DynamoDB) implements it.

Ids are strings. Runs of a flow are numbered 1, 2, 3... by the store, which guarantees that
concurrent runs never share an id. Task ids are allocated by the run's scheduler.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from flowlib.datastore.artifacts import ArtifactRef
from flowlib.metadata.records import AttemptRecord, RunRecord, TaskRecord


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
    ) -> RunRecord: ...

    @abstractmethod
    def update_run(self, flow: str, run_id: str, status: str, finished: float | None) -> None: ...

    @abstractmethod
    def heartbeat(self, flow: str, run_id: str) -> None: ...

    @abstractmethod
    def add_tags(self, flow: str, run_id: str, tags: list[str]) -> None: ...

    @abstractmethod
    def remove_tags(self, flow: str, run_id: str, tags: list[str]) -> None: ...

    @abstractmethod
    def get_run(self, flow: str, run_id: str) -> RunRecord | None: ...

    @abstractmethod
    def list_runs(
        self, flow: str, tags: list[str] | None = None, limit: int | None = None
    ) -> Iterator[RunRecord]:
        """Runs of ``flow`` having every tag in ``tags``, newest first."""

    @abstractmethod
    def list_flows(self) -> list[str]: ...

    # -- tasks -----------------------------------------------------------------------------
    @abstractmethod
    def create_tasks(self, tasks: list[TaskRecord]) -> None:
        """Register tasks of a run (status pending) before they are launched."""

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
        """Record that an attempt started; fails if this attempt was already recorded.

        ``restart`` allows starting again an attempt that is still recorded as running: the
        compute backend re-ran it after losing its host (e.g. a spot interruption), which must
        not count as one of the user's @retry attempts.
        """

    @abstractmethod
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
        """Record an attempt's outcome; on success also its artifacts and transition."""

    @abstractmethod
    def set_attempt_logs(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int, logs: dict[str, str]
    ) -> None: ...

    @abstractmethod
    def clone_task(
        self,
        source: TaskRecord,
        run_id: str,
        task_id: str,
        input_paths: list[str],
        foreach_stack: list[dict[str, Any]],
    ) -> None:
        """Record a task of ``run_id`` that reuses ``source``'s successful outcome."""

    @abstractmethod
    def get_task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRecord | None: ...

    @abstractmethod
    def list_tasks(self, flow: str, run_id: str, step: str | None = None) -> list[TaskRecord]: ...

    @abstractmethod
    def list_attempts(
        self, flow: str, run_id: str, step: str, task_id: str
    ) -> list[AttemptRecord]: ...

    @abstractmethod
    def get_artifacts(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int | None = None
    ) -> dict[str, ArtifactRef]:
        """Artifacts of an attempt (default: the successful one, else the latest)."""

    def preflight(self) -> None:  # noqa: B027 - a local store has nothing to check
        """Check that the stores are reachable and usable before a run writes anything, so a
        misconfiguration fails with one clear message and leaves nothing behind."""

    def close(self) -> None:  # noqa: B027 - optional hook; stateless stores need nothing
        """Release connections (before fork, at exit)."""

    # -- retention (flowlib.retention) -----------------------------------------------------
    def run_blob_keys(self, flow: str, run_id: str) -> set[str]:
        """Every blob key the run references: artifacts of every attempt, logs, and the code
        package named in recorded attempt resources (``code_package``)."""
        raise NotImplementedError(f"{type(self).__name__} does not support retention")

    def mark_run_removing(
        self, flow: str, run_id: str, when: float, protect_tags: list[str]
    ) -> bool:
        """Atomically mark a finished run as being removed by retention, unless it is running,
        carries one of ``protect_tags`` (pinned meanwhile) or is already removed. True if the
        run is now marked (also when an earlier, interrupted gc had marked it)."""
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
