"""The client API: Flow, Run, Step, Task and DataArtifact (Metaflow's names and semantics).

Objects are thin handles: each reads what it needs from the metadata store when asked, and
artifact values are loaded only when ``.data`` is touched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from flowlib.client.access import check_namespace, check_retained, split_pathspec, utc_time
from flowlib.client.artifacts import (
    DataArtifact,
    TaskArtifacts,
    TaskData,
    client_stores,
    run_artifact_store,
)
from flowlib.client.metaflow_names import (
    FlowNames,
    RunNames,
    StepNames,
    TaskNames,
)
from flowlib.client.namespace import get_namespace
from flowlib.current import Trigger
from flowlib.datastore.artifacts import ArtifactRef
from flowlib.exceptions import FlowlibError, NotFoundError
from flowlib.metadata.liveness import CRASHED, attempt_status, last_seen, run_liveness
from flowlib.metadata.records import (
    FAILED,
    INTERRUPTED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    RunRecord,
    StepException,
    TaskRecord,
)

_INTERNAL_STEPS = ("_parameters",)


class Flow(FlowNames):
    """All runs of a flow: ``Flow("TrainFlow").latest_run``."""

    def __init__(self, name: str, _namespace_check: bool = True) -> None:
        # ``_namespace_check`` is accepted for Metaflow's signature: a Flow is in every namespace.
        self.id = self.pathspec = split_pathspec(name, 1, "Flow")[0]
        self._meta = client_stores().metadata
        if next(iter(self._meta.list_runs(self.id, limit=1)), None) is None:
            raise NotFoundError(f"Flow '{self.id}' has no runs in {client_stores().description}.")

    def runs(self, *tags: str) -> Iterator[Run]:
        """Runs in the current namespace having every tag given, newest first."""
        return self._runs(list(tags))

    def _runs(self, tags: list[str], limit: int | None = None) -> Iterator[Run]:
        ns = get_namespace()
        wanted = [*tags, ns] if ns is not None else tags
        # Runs removed by retention are skipped, not counted: when the first ``limit`` runs
        # listed held removed ones, list on without a limit (rare: gc removes old runs).
        yielded: set[str] = set()
        skipped = False
        for pass_limit in (limit, None):
            for record in self._meta.list_runs(self.id, tags=wanted, limit=pass_limit):
                if record.retention is not None:
                    skipped = True
                    continue
                if record.run_id in yielded:
                    continue
                yield Run._from_record(record)
                yielded.add(record.run_id)
                if limit is not None and len(yielded) >= limit:
                    return
            if limit is None or not skipped:
                return

    def __iter__(self) -> Iterator[Run]:
        return self.runs()

    def __getitem__(self, run_id: str) -> Run:
        return Run(f"{self.id}/{run_id}")

    @property
    def latest_run(self) -> Run | None:
        return next(self._runs([], limit=1), None)

    @property
    def latest_successful_run(self) -> Run | None:
        return next((r for r in self.runs() if r.successful), None)

    def __repr__(self) -> str:
        return f"Flow('{self.id}')"


class Run(RunNames):
    """One run: ``Run("TrainFlow/12")``; ``run["train"]`` is a Step; ``run.data`` the end's data."""

    def __init__(self, pathspec: str, _record: RunRecord | None = None,
                 _namespace_check: bool = True) -> None:
        """``_namespace_check=False`` (Metaflow's) reads a run of any namespace."""
        flow, run_id = split_pathspec(pathspec, 2, "Run")
        record = _record or client_stores().metadata.get_run(flow, run_id)
        if record is None:
            where = client_stores().description
            raise NotFoundError(f"Run '{pathspec}' does not exist in {where}.")
        check_retained(record, f"Run '{pathspec}'")
        if _record is None and _namespace_check:
            check_namespace(record, f"Run '{pathspec}'")
        self._record = record
        self.id = record.run_id
        self.pathspec = f"{flow}/{record.run_id}"
        self.flow_name = flow

    @classmethod
    def _from_record(cls, record: RunRecord) -> Run:
        return cls(f"{record.flow}/{record.run_id}", _record=record)

    def _refresh(self) -> RunRecord:
        self._record = client_stores().metadata.get_run(self.flow_name, self.id) or self._record
        return self._record

    # status
    @property
    def status(self) -> str:
        """running, succeeded, failed, interrupted, or crashed: recorded as running but its
        runtime stopped sending heartbeats (killed, lost machine; see ``last_heartbeat_at``),
        or, for a deployed run, its Step Functions execution ended outside any task (stopped,
        timed out, failed); ``status_reason`` says which. A crashed run continues with
        ``resume --origin-run-id``."""
        return run_liveness(self._record).status

    @property
    def status_reason(self) -> str | None:
        """Why a crashed run is shown as crashed, in one sentence, e.g. ``its Step Functions
        execution F-12 was stopped (StopExecution) at ...``; for a deployed run counted as
        running because Step Functions could not be asked, why; None otherwise."""
        return run_liveness(self._record).reason

    @property
    def crashed(self) -> bool:
        return self.status == CRASHED

    @property
    def last_heartbeat_at(self) -> dt.datetime | None:
        """When the run's runtime was last seen alive."""
        return utc_time(last_seen(self._record))

    @property
    def successful(self) -> bool:
        return self._record.status == SUCCEEDED

    @property
    def finished(self) -> bool:
        """True once nothing will run in this run any more: it succeeded, failed or was
        interrupted, or (a deployed run) its Step Functions execution ended. A run crashed by
        lost heartbeats is not finished: its runtime may come back."""
        return self._record.status in (SUCCEEDED, FAILED, INTERRUPTED) or (
            run_liveness(self._record).ended)

    @property
    def created_at(self) -> dt.datetime | None:
        return utc_time(self._record.created)

    @property
    def finished_at(self) -> dt.datetime | None:
        return utc_time(self._record.finished)

    @property
    def user(self) -> str:
        return self._record.user

    @property
    def origin_pathspec(self) -> str | None:
        origin = self._record.origin_run_id
        return f"{self.flow_name}/{origin}" if origin else None

    # tags
    @property
    def tags(self) -> frozenset[str]:
        return frozenset(self._record.system_tags) | frozenset(self._record.tags)

    @property
    def user_tags(self) -> frozenset[str]:
        return frozenset(self._record.tags)

    @property
    def system_tags(self) -> frozenset[str]:
        return frozenset(self._record.system_tags)

    @property
    def trigger(self) -> Trigger | None:
        """What started this deployed run (``@trigger`` event, ``@trigger_on_finish`` run),
        or None (started by hand, by a schedule, or locally)."""
        return Trigger.from_tags(self._record.system_tags)

    def add_tag(self, tag: str) -> None:
        self.add_tags([tag])

    def add_tags(self, tags: list[str]) -> None:
        from flowlib.tags import validate_tags

        client_stores().metadata.add_tags(self.flow_name, self.id, validate_tags(list(tags)))
        self._refresh()

    def remove_tag(self, tag: str) -> None:
        self.remove_tags([tag])

    def remove_tags(self, tags: list[str]) -> None:
        system = set(tags) & set(self._record.system_tags)
        if system:
            raise FlowlibError(f"System tags cannot be removed: {', '.join(sorted(system))}.")
        client_stores().metadata.remove_tags(self.flow_name, self.id, list(tags))
        self._refresh()

    # steps
    @cached_property
    def _tasks(self) -> list[TaskRecord]:
        return [
            t
            for t in client_stores().metadata.list_tasks(self.flow_name, self.id)
            if t.step not in _INTERNAL_STEPS and t.status != PENDING
        ]

    def steps(self, *tags: str) -> Iterator[Step]:
        """Steps of the run, most recent first (as Metaflow orders them); with tags, none
        unless the run has every tag (a step's tags are its run's, as in Metaflow)."""
        if not set(tags) <= self.tags:
            return
        first_seen: dict[str, float] = {}
        for task in self._tasks:
            first_seen.setdefault(task.step, task.created)
        for name in sorted(first_seen, key=first_seen.get, reverse=True):
            yield Step(f"{self.pathspec}/{name}", _run=self)

    def __iter__(self) -> Iterator[Step]:
        return self.steps()

    def __getitem__(self, step: str) -> Step:
        if not any(t.step == step for t in self._tasks):
            raise KeyError(f"Run '{self.pathspec}' has no step '{step}'.")
        return Step(f"{self.pathspec}/{step}", _run=self)

    def __contains__(self, step: object) -> bool:
        return any(t.step == step for t in self._tasks)

    @property
    def end_task(self) -> Task | None:
        tasks = [t for t in self._tasks if t.step == "end"]
        return Task._from_record(tasks[-1]) if tasks else None

    @property
    def data(self) -> TaskData | None:
        """The end step's artifacts (None until the end step ran)."""
        end = self.end_task
        return end.data if end is not None else None

    @property
    def cost(self) -> Any:
        """What the run cost (a ``flowlib.cost.RunCost``): vCPU-s, GiB-s and dollars per
        attempt and step, storage written and held alone, and what the total includes."""
        from flowlib.cost import run_cost

        return run_cost(client_stores(), self.flow_name, self.id)

    def __repr__(self) -> str:
        return f"Run('{self.pathspec}')"


class Step(StepNames):
    """A step of a run: ``step.task`` for non-foreach steps, ``step.tasks()`` for all."""

    def __init__(self, pathspec: str, _run: Run | None = None,
                 _namespace_check: bool = True) -> None:
        flow, run_id, name = split_pathspec(pathspec, 3, "Step")
        self._run = _run or Run(f"{flow}/{run_id}", _namespace_check=_namespace_check)
        self.id = name
        self.pathspec = f"{self._run.pathspec}/{name}"
        self._records = [t for t in self._run._tasks if t.step == name]
        if not self._records:
            raise NotFoundError(f"Step '{pathspec}' does not exist.")

    def tasks(self, *tags: str) -> Iterator[Task]:
        if tags and not set(tags) <= self._run.tags:
            return iter(())
        return (Task._from_record(r) for r in self._records)

    def __iter__(self) -> Iterator[Task]:
        return self.tasks()

    def __getitem__(self, task_id: str) -> Task:
        for record in self._records:
            if record.task_id == str(task_id):
                return Task._from_record(record)
        raise KeyError(f"Step '{self.pathspec}' has no task '{task_id}'.")

    @property
    def task(self) -> Task:
        return Task._from_record(self._records[0])

    @property
    def created_at(self) -> dt.datetime | None:
        return utc_time(min(r.created for r in self._records))

    @property
    def finished_at(self) -> dt.datetime | None:
        ends = [r.finished for r in self._records]
        return utc_time(max(ends)) if all(ends) else None

    def __repr__(self) -> str:
        return f"Step('{self.pathspec}')"


class Task(TaskNames):
    """A task: ``task.data.x`` loads artifact x; stdout, stderr and exception of the attempt."""

    def __init__(self, pathspec: str, _record: TaskRecord | None = None,
                 _namespace_check: bool = True) -> None:
        """``_namespace_check=False`` (Metaflow's) reads a task of any namespace."""
        flow, run_id, step, task_id = split_pathspec(pathspec, 4, "Task")
        meta = client_stores().metadata
        if _record is None:
            run = meta.get_run(flow, run_id)
            if run is None:
                raise NotFoundError(f"Run '{flow}/{run_id}' does not exist.")
            check_retained(run, f"Task '{pathspec}'")
            if _namespace_check:
                check_namespace(run, f"Task '{pathspec}'")
        record = _record or meta.get_task(flow, run_id, step, task_id)
        if record is None:
            raise NotFoundError(f"Task '{pathspec}' does not exist.")
        self._record = record
        self.id = record.task_id
        self.pathspec = record.pathspec

    @classmethod
    def _from_record(cls, record: TaskRecord) -> Task:
        return cls(record.pathspec, _record=record)

    @property
    def successful(self) -> bool:
        return self._record.status == SUCCEEDED

    @property
    def finished(self) -> bool:
        return self._record.status in (SUCCEEDED, FAILED)

    @property
    def status(self) -> str:
        """pending, running, succeeded, failed, or crashed: its latest attempt is recorded as
        running but its process stopped sending heartbeats (see ``last_heartbeat_at``)."""
        if self._record.status == RUNNING and self._attempts:
            return attempt_status(self._attempts[-1])
        return self._record.status

    @property
    def last_heartbeat_at(self) -> dt.datetime | None:
        """When the latest attempt's process was last seen alive (None if it never beat)."""
        latest = self._attempts[-1] if self._attempts else None
        return utc_time(latest.heartbeat) if latest is not None else None

    @property
    def created_at(self) -> dt.datetime | None:
        return utc_time(self._record.created)

    @property
    def finished_at(self) -> dt.datetime | None:
        return utc_time(self._record.finished)

    @property
    def origin_pathspec(self) -> str | None:
        return self._record.origin

    @property
    def index(self) -> int | None:
        stack = self._record.foreach_stack
        return stack[-1]["index"] if stack else None

    @cached_property
    def _attempts(self) -> list:
        r = self._record
        return client_stores().metadata.list_attempts(r.flow, r.run_id, r.step, r.task_id)

    @property
    def current_attempt(self) -> int:
        return self._attempts[-1].attempt if self._attempts else 0

    @cached_property
    def _refs(self) -> dict[str, ArtifactRef]:
        r = self._record
        return client_stores().metadata.get_artifacts(r.flow, r.run_id, r.step, r.task_id)

    @property
    def data(self) -> TaskData:
        return TaskData(self)

    @property
    def artifacts(self) -> TaskArtifacts:
        return TaskArtifacts(self)

    def __iter__(self) -> Iterator[DataArtifact]:
        for name in sorted(self._refs):
            yield DataArtifact(self, name, self._refs[name])

    def __getitem__(self, name: str) -> DataArtifact:
        if name not in self._refs:
            raise KeyError(f"Task '{self.pathspec}' has no artifact '{name}'.")
        return DataArtifact(self, name, self._refs[name])

    def __contains__(self, name: object) -> bool:
        return name in self._refs

    @property
    def exception(self) -> StepException | None:
        """The exception that made the task fail, as in Metaflow: None for a task that
        succeeded, also when ``@catch`` handled its exception (that one is in the ``@catch``
        variable) or a retry succeeded (an attempt's output stays in ``log(stream, attempt)``)."""
        if self.successful:
            return None
        for attempt in reversed(self._attempts):
            if attempt.error:
                return StepException.from_record(attempt.error)
        return None

    def log(self, stream: str, attempt: int | None = None) -> str:
        """The stdout or stderr of an attempt (default: the latest)."""
        attempts = self._attempts
        chosen = (
            next((a for a in attempts if a.attempt == attempt), None)
            if attempt is not None
            else (attempts[-1] if attempts else None)
        )
        if chosen is None or stream not in chosen.logs:
            return ""
        store = run_artifact_store(self._record.flow, self._record.run_id)
        return store.get_bytes(chosen.logs[stream]).decode("utf-8", errors="replace")

    @property
    def cards(self) -> list:
        """The task's cards (``@card``) of its latest attempt that has any: ``Card`` objects
        with ``.html``, ``.id``, ``.type``, ``.save(path)`` and ``.view()``."""
        from flowlib.cards.store import task_cards

        r = self._record
        return task_cards(client_stores(), r.flow, r.run_id, r.step, r.task_id)

    @property
    def environment(self) -> dict[str, Any] | None:
        """The Python environment the task ran in (``@pypi``/``@conda``): a dict with ``key``
        (the environment's hash), ``python``, ``platform``, ``requirements`` (as written in
        the flow) and ``packages`` (name -> exact version of everything installed); None for
        a task that ran in the launching interpreter."""
        from flowlib.environments.record import RECORD_ARTIFACT

        ref = self._refs.get(RECORD_ARTIFACT)
        if ref is None:
            return None
        return DataArtifact(self, RECORD_ARTIFACT, ref).data

    @property
    def stdout(self) -> str:
        return self.log("stdout")

    @property
    def stderr(self) -> str:
        return self.log("stderr")

    def __repr__(self) -> str:
        return f"Task('{self.pathspec}')"
