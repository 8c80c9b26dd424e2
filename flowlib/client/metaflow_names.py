"""Names a Metaflow notebook uses that flowlib's client objects answer to (issue 17).

Mixed into Flow, Run, Step, Task and DataArtifact so ``objects.py`` keeps the core model.
Where a name means nothing in flowlib it still exists, and its docstring and value say why
(``code`` is None: flowlib stores no code package for runs; ``loglines`` has no per-line times).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from flowlib.exceptions import FlowlibError

if TYPE_CHECKING:
    from flowlib.client.objects import Flow, Run, Step, Task


class Metadata(NamedTuple):
    """One metadata entry of a task (Metaflow's ``Metadata`` tuple)."""

    name: str
    value: str
    created_at: dt.datetime | None
    type: str
    task: Any


class TaggedObject:
    """``tags``/``user_tags``/``system_tags`` and ``code`` of an object below a run: its run's."""

    @property
    def _owning_run(self) -> Run:
        raise NotImplementedError

    @property
    def path_components(self) -> list[str]:
        """The pathspec's parts: ``["TrainFlow", "12", "train", "4"]`` (Metaflow's name)."""
        return self.pathspec.split("/")  # type: ignore[attr-defined]

    @property
    def tags(self) -> frozenset[str]:
        return self._owning_run.tags

    @property
    def user_tags(self) -> frozenset[str]:
        return self._owning_run.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        return self._owning_run.system_tags

    @property
    def code(self) -> None:
        """Always None: flowlib keeps no code package with a run (local tasks run the flow file
        in place; remote ones get the package built for the run, which is not stored)."""
        return None


class FlowNames:
    @property
    def parent(self) -> None:
        """None: a flow is the top of the hierarchy (Metaflow's ``Flow.parent``)."""
        return None

    @property
    def tags(self) -> frozenset[str]:
        """Empty: in flowlib, as in Metaflow, tags belong to runs, not to flows."""
        return frozenset()

    @property
    def code(self) -> None:
        """None: flowlib stores no code package (see ``Run.code``)."""
        return None


class RunNames(TaggedObject):
    @property
    def _owning_run(self) -> Run:
        return self  # type: ignore[return-value]

    @property
    def parent(self) -> Flow:
        from flowlib.client.objects import Flow

        return Flow(self.flow_name)  # type: ignore[attr-defined]

    def replace_tag(self, tag_to_remove: str, tag_to_add: str) -> None:
        """Remove one user tag and add another."""
        self.replace_tags([tag_to_remove], [tag_to_add])

    def replace_tags(self, tags_to_remove: list[str], tags_to_add: list[str]) -> None:
        """Remove user tags and add others; tags in both lists are kept."""
        remove = [t for t in tags_to_remove if t not in set(tags_to_add)]
        if tags_to_add:
            self.add_tags(list(tags_to_add))  # type: ignore[attr-defined]
        if remove:
            self.remove_tags(remove)  # type: ignore[attr-defined]


class StepNames(TaggedObject):
    @property
    def _owning_run(self) -> Run:
        return self._run  # type: ignore[attr-defined]

    @property
    def parent(self) -> Run:
        return self._run  # type: ignore[attr-defined]

    @property
    def parent_steps(self) -> Iterator[Step]:
        """The steps whose tasks this step's tasks took as input (none for start)."""
        from flowlib.client.objects import _INTERNAL_STEPS

        names = dict.fromkeys(
            path.split("/")[2]
            for record in self._records  # type: ignore[attr-defined]
            for path in record.input_paths
        )
        for name in names:
            if name not in _INTERNAL_STEPS:
                yield self._run[name]  # type: ignore[attr-defined]

    @property
    def child_steps(self) -> Iterator[Step]:
        """The steps whose tasks took this step's tasks' output as input (none for end)."""
        mine = {record.pathspec for record in self._records}  # type: ignore[attr-defined]
        names = dict.fromkeys(
            record.step
            for record in self._run._tasks  # type: ignore[attr-defined]
            if mine.intersection(record.input_paths)
        )
        for name in names:
            yield self._run[name]  # type: ignore[attr-defined]

    @property
    def origin_pathspec(self) -> str | None:
        """For a step of a resumed run whose tasks were cloned: the step it was cloned from."""
        origin = self.task.origin_pathspec  # type: ignore[attr-defined]
        return origin.rsplit("/", 1)[0] if origin else None


class TaskNames(TaggedObject):
    @property
    def _owning_run(self) -> Run:
        return self.parent.parent

    @property
    def parent(self) -> Step:
        from flowlib.client.objects import Step

        # Going up from an object already read needs no namespace check (as in Metaflow).
        return Step(self.pathspec.rsplit("/", 1)[0],  # type: ignore[attr-defined]
                    _namespace_check=False)

    @property
    def parent_tasks(self) -> Iterator[Task]:
        """The tasks whose output this task took as input (none for start)."""
        from flowlib.client.objects import _INTERNAL_STEPS, Task

        for path in self._record.input_paths:  # type: ignore[attr-defined]
            if path.split("/")[2] not in _INTERNAL_STEPS:
                yield Task(path, _namespace_check=False)

    @property
    def child_tasks(self) -> Iterator[Task]:
        """The tasks that took this task's output as input."""
        from flowlib.client.objects import Task
        from flowlib.stores import open_stores

        r = self._record  # type: ignore[attr-defined]
        for record in open_stores().metadata.list_tasks(r.flow, r.run_id):
            if r.pathspec in record.input_paths and record.status != "pending":
                yield Task._from_record(record)

    @property
    def metadata(self) -> list[Metadata]:
        """What flowlib records about the task, as Metaflow's ``Metadata`` tuples."""
        r = self._record  # type: ignore[attr-defined]
        created = dt.datetime.fromtimestamp(r.created, dt.timezone.utc)
        run = self._owning_run
        entries = {
            "attempt": str(self.current_attempt),  # type: ignore[attr-defined]
            "status": r.status,
            "user": run.user,
            "runtime": "flowlib",
        }
        if r.foreach_stack:
            entries["foreach-index"] = str(r.foreach_stack[-1]["index"])
            entries["foreach-stack"] = repr([f["index"] for f in r.foreach_stack])
        # Every task of a resumed run names the run it resumed (as in Metaflow); a task cloned
        # from that run also names its origin task.
        if run._record.origin_run_id:
            entries["origin-run-id"] = run._record.origin_run_id
        if r.origin:
            entries["origin-run-id"] = r.origin.split("/")[1]
            entries["origin-task-id"] = r.origin.split("/")[3]
        attempts = self._attempts  # type: ignore[attr-defined]
        for attempt in attempts:
            entries[f"attempt-{attempt.attempt}-status"] = attempt.status
        # One "attempt" entry per attempt made, as Metaflow records them; the current one last,
        # so that metadata_dict (the last entry of a name wins) names it.
        earlier = [Metadata("attempt", str(a.attempt), created, "attempt", self)
                   for a in attempts if str(a.attempt) != entries["attempt"]]
        return earlier + [Metadata(k, v, created, k, self) for k, v in entries.items()]

    @property
    def metadata_dict(self) -> dict[str, str]:
        """``{name: value}`` of ``metadata`` (Metaflow's ``Task.metadata_dict``)."""
        return {m.name: m.value for m in self.metadata}

    def loglines(
        self, stream: str, as_unicode: bool = True, attempt: int | None = None
    ) -> Iterator[tuple[dt.datetime | None, str | bytes]]:
        """``(timestamp, line)`` pairs of stdout or stderr. flowlib stores a log as one blob,
        without per-line times, so the timestamp is None."""
        if stream not in ("stdout", "stderr"):
            raise FlowlibError(f"loglines('{stream}'): stream must be 'stdout' or 'stderr'.")
        text = self.log(stream, attempt)  # type: ignore[attr-defined]
        for line in text.splitlines():
            yield None, (line if as_unicode else line.encode())


class ArtifactNames:
    @property
    def parent(self) -> Task:
        return self._task  # type: ignore[attr-defined]

    @property
    def tags(self) -> frozenset[str]:
        return self._task.tags  # type: ignore[attr-defined]


class Metaflow:
    """The top of the client hierarchy: ``Metaflow().flows`` lists every flow in the store."""

    @property
    def flows(self) -> list[Flow]:
        from flowlib.client.objects import Flow
        from flowlib.stores import open_stores

        flows = []
        for name in open_stores().metadata.list_flows():
            try:
                flows.append(Flow(name))
            except FlowlibError:
                continue
        return flows

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows)

    def __repr__(self) -> str:
        return "Metaflow()"


def get_metadata() -> str:
    """Where run metadata is read from, as Metaflow's ``get_metadata()`` reports it
    (``local@<folder>`` or ``dynamodb@<profile>``)."""
    from flowlib.config import ROOT_ENV
    from flowlib.stores import open_stores

    stores = open_stores()
    profile = stores.profile
    if profile is not None and profile["metadata"] == "dynamodb":
        return f"dynamodb@{profile['dynamodb_table']}"
    return f"local@{stores.task_env.get(ROOT_ENV, '')}"


def metadata(ms: str) -> str:
    """Metaflow switches metadata providers here; flowlib picks stores by profile
    (``FLOWLIB_PROFILE``), so this only accepts the current one and says so otherwise."""
    current = get_metadata()
    if ms and ms.split("@")[0] not in current:
        raise FlowlibError(
            f"metadata('{ms}'): flowlib reads the stores of the active profile ({current}); "
            "choose another with FLOWLIB_PROFILE=<name> or FLOWLIB_DATASTORE_ROOT=<folder>."
        )
    return current
