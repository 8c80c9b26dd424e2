"""What the UI's pages show, read through the metadata store interface and the client.

Every function here is a read. Costs are bounded per page: a page of runs is one
``list_runs_page`` call, a run is one ``list_tasks``, a task is its attempts, artifact refs
and cards; artifact values are loaded only for previews of values below ``PREVIEW_BYTES``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flowlib.cards.graph_view import GraphLayout, layout_description
from flowlib.cards.preview import Preview, preview
from flowlib.exceptions import FlowlibError, NotFoundError
from flowlib.metadata.records import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    RunFilter,
    RunPage,
    RunRecord,
    TaskRecord,
)

PARAMETERS_STEP = "_parameters"
PREVIEW_BYTES = 1 << 20  # artifacts stored bigger than this get no preview (download only)
TASKS_PER_PAGE = 200


def when(epoch: float | None) -> str:
    if not epoch:
        return ""
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def duration(start: float | None, end: float | None) -> str:
    if not start or not end:
        return ""
    seconds = max(end - start, 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def step_status(tasks: list[TaskRecord]) -> str:
    """One status for a step from its tasks' statuses (worst first)."""
    statuses = {t.status for t in tasks}
    for status in (FAILED, RUNNING, PENDING):
        if status in statuses:
            return status
    return SUCCEEDED if statuses else "not-started"


@dataclass
class StepSummary:
    name: str
    status: str
    tasks: int
    by_status: dict[str, int]
    started: float | None
    finished: float | None
    first_task: str | None

    @property
    def duration(self) -> str:
        return duration(self.started, self.finished)


@dataclass
class RunView:
    run: RunRecord
    steps: list[StepSummary]
    layout: GraphLayout
    statuses: dict[str, str]
    parameters: dict[str, Preview] = field(default_factory=dict)
    failed: list[TaskRecord] = field(default_factory=list)

    def link(self, base: str, step: StepSummary) -> str | None:
        """Where a step's box leads: its task when it has one, else the list of its tasks."""
        if not step.tasks:
            return None
        if step.tasks == 1:
            return f"{base}/{step.name}/{step.first_task}"
        return f"{base}/{step.name}"


@dataclass
class ArtifactView:
    name: str
    type: str
    size: int
    preview: Preview | None


class UiData:
    """The UI's reads over one profile's stores."""

    def __init__(self, stores: Any) -> None:
        self.stores = stores
        self.meta = stores.metadata

    # -- flows and runs ----------------------------------------------------------------------
    def flows(self) -> list[tuple[str, RunRecord | None]]:
        result = []
        for flow in self.meta.list_flows():
            page = self.meta.list_runs_page(flow, None, None, 1)
            result.append((flow, page.runs[0] if page.runs else None))
        return result

    def runs(self, flow: str, filter: RunFilter, before: str | None, limit: int = 50
             ) -> RunPage:
        return self.meta.list_runs_page(flow, filter, before, limit)

    def run(self, flow: str, run_id: str) -> RunRecord:
        record = self.meta.get_run(flow, run_id)
        if record is None:
            raise NotFoundError(f"Run {flow}/{run_id} does not exist in {self.stores.description}.")
        return record

    def run_view(self, flow: str, run_id: str) -> RunView:
        run = self.run(flow, run_id)
        tasks = self.meta.list_tasks(flow, run_id)
        params_task = next((t for t in tasks if t.step == PARAMETERS_STEP), None)
        described = (params_task.transition or {}).get("graph") if params_task else None
        by_step: dict[str, list[TaskRecord]] = {}
        for task in tasks:
            if task.step != PARAMETERS_STEP:
                by_step.setdefault(task.step, []).append(task)
        if not described:  # a run recorded before graphs were stored: what its tasks show
            described = [{"name": s, "next": list((ts[0].transition or {}).get("next", []))}
                         for s, ts in by_step.items()]
        steps = []
        for entry in described:
            name = entry["name"]
            members = by_step.get(name, [])
            counts: dict[str, int] = {}
            for t in members:
                counts[t.status] = counts.get(t.status, 0) + 1
            ends = [t.finished for t in members]
            steps.append(StepSummary(
                name, step_status(members), len(members), counts,
                min((t.created for t in members), default=None),
                max(ends) if members and all(ends) else None,
                members[0].task_id if members else None,
            ))
        statuses = {s.name: s.status for s in steps}
        parameters = {}
        if params_task is not None:
            parameters = {name: self._preview(flow, ref) for name, ref in
                          self.meta.get_artifacts(flow, run_id, PARAMETERS_STEP, "0", 0).items()}
        failed = [t for t in tasks if t.status == FAILED]
        return RunView(run, steps, layout_description(described), statuses, parameters, failed)

    def step_tasks(self, flow: str, run_id: str, step: str) -> list[TaskRecord]:
        self.run(flow, run_id)
        tasks = self.meta.list_tasks(flow, run_id, step)
        if not tasks:
            raise NotFoundError(f"Run {flow}/{run_id} has no step '{step}' (yet).")
        return tasks

    # -- tasks -------------------------------------------------------------------------------
    def task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRecord:
        record = self.meta.get_task(flow, run_id, step, task_id)
        if record is None:
            raise NotFoundError(f"Task {flow}/{run_id}/{step}/{task_id} does not exist.")
        return record

    def attempts(self, task: TaskRecord) -> list[Any]:
        return self.meta.list_attempts(task.flow, task.run_id, task.step, task.task_id)

    def artifacts(self, task: TaskRecord, attempt: int | None) -> list[ArtifactView]:
        refs = self.meta.get_artifacts(task.flow, task.run_id, task.step, task.task_id, attempt)
        return [ArtifactView(name, ref.type, ref.size, self._preview(task.flow, ref))
                for name, ref in sorted(refs.items())]

    def _preview(self, flow: str, ref: Any) -> Preview | None:
        if ref.size > PREVIEW_BYTES:
            return None
        try:
            value = self.stores.artifacts(flow).load_cached(ref)
        except Exception as exc:  # noqa: BLE001 - a page shows what it can
            return Preview(ref.type, f"(cannot load: {exc})")
        return preview(value)

    def artifact_bytes(self, task: TaskRecord, name: str, attempt: int | None
                       ) -> tuple[bytes, str]:
        """The artifact as a file: Parquet for DataFrames, else a pickle of the value."""
        refs = self.meta.get_artifacts(task.flow, task.run_id, task.step, task.task_id, attempt)
        ref = refs.get(name)
        if ref is None:
            raise NotFoundError(f"Task {task.pathspec} has no artifact '{name}'.")
        store = self.stores.artifacts(task.flow)
        value = store.load(ref, name, task.pathspec)
        if ref.encoding == "parquet" or type(value).__name__ == "DataFrame":
            import io

            buffer = io.BytesIO()
            value.to_parquet(buffer)
            return buffer.getvalue(), f"{name}.parquet"
        import pickle

        return pickle.dumps(value, protocol=5), f"{name}.pkl"

    def log(self, task: TaskRecord, attempt: int, stream: str) -> str:
        for record in self.attempts(task):
            if record.attempt == attempt and stream in record.logs:
                blob = self.stores.artifacts(task.flow).get_bytes(record.logs[stream])
                return blob.decode("utf-8", errors="replace")
        return ""

    def cards(self, task: TaskRecord) -> list[Any]:
        return self.meta.list_cards(task.flow, task.run_id, task.step, task.task_id)

    def card_html(self, task: TaskRecord, attempt: int, index: int) -> str:
        for card in self.cards(task):
            if card.attempt == attempt and card.index == index:
                return self.stores.artifacts(task.flow).get_bytes(card.key).decode("utf-8")
        raise NotFoundError(f"Task {task.pathspec} has no card {index} for attempt {attempt}.")

    # -- two runs side by side ---------------------------------------------------------------
    def compare(self, left: str, right: str) -> dict[str, Any]:
        views = [self.run_view(*_run_pathspec(p)) for p in (left, right)]
        param_names = sorted(set(views[0].parameters) | set(views[1].parameters))
        ends = [self._end_artifacts(v) for v in views]
        artifact_names = sorted(set(ends[0]) | set(ends[1]))
        step_names = list(dict.fromkeys([s.name for v in views for s in v.steps]))
        steps = [{s.name: s for s in v.steps} for v in views]
        return {
            "views": views,
            "parameters": [(n, pair, _texts(pair[0]) != _texts(pair[1])) for n, pair in
                           ((n, [v.parameters.get(n) for v in views]) for n in param_names)],
            "artifacts": [(n, [e.get(n) for e in ends]) for n in artifact_names],
            "steps": [(n, [s.get(n) for s in steps]) for n in step_names],
        }

    def _end_artifacts(self, view: RunView) -> dict[str, ArtifactView]:
        end = next((s for s in view.steps if s.name == "end" and s.first_task), None)
        if end is None:
            return {}
        task = self.task(view.run.flow, view.run.run_id, "end", end.first_task)
        return {a.name: a for a in self.artifacts(task, None)}


def _texts(p: Preview | None) -> tuple[str, str] | None:
    return (p.summary, p.text) if p is not None else None


def _run_pathspec(text: str) -> tuple[str, str]:
    parts = (text or "").strip("/").split("/")
    if len(parts) != 2 or not all(parts):
        raise FlowlibError(f"'{text}' is not a run: give FlowName/RUN_ID, e.g. TrainFlow/12.")
    return parts[0], parts[1]


def parse_filter(params: Any) -> RunFilter:
    """A RunFilter from the runs page's query string (dates are YYYY-MM-DD, UTC)."""

    def day(name: str, plus: int = 0) -> float | None:
        text = (params.get(name) or "").strip()
        if not text:
            return None
        try:
            date = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise FlowlibError(f"{name}={text!r}: give a date as YYYY-MM-DD.") from None
        return (date + dt.timedelta(days=plus)).timestamp()

    tags = [t.strip() for t in (params.get("tag") or "").split(",") if t.strip()]
    return RunFilter(
        tags=tags,
        user=(params.get("user") or "").strip() or None,
        status=(params.get("status") or "").strip() or None,
        created_after=day("since"),
        created_before=day("until", plus=1),
    )
