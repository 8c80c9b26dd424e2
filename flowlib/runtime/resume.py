"""Resume: which tasks of the origin run a new run may reuse instead of recomputing.

A task is cloned when the origin run has a successful task of the same step at the same place in
every enclosing foreach, all of its inputs were themselves cloned (so it would see the same
values), and its step is not one the user asked to re-run (``resume STEP`` re-runs STEP and every
step reachable from it). Without a STEP, only what did not succeed is re-run, which also covers a
runtime that was killed mid-run: its unfinished tasks simply have no successful record.
"""

from __future__ import annotations

from flowlib.exceptions import FlowlibError
from flowlib.graph import FlowGraph
from flowlib.metadata.base import MetadataStore
from flowlib.metadata.records import SUCCEEDED, TaskRecord
from flowlib.runtime.state import ForeachFrame

FramePath = tuple[tuple[str, int], ...]


def frame_path(frames: list[ForeachFrame]) -> FramePath:
    return tuple((f.step, f.index) for f in frames)


class ResumePlan:
    def __init__(
        self,
        meta: MetadataStore,
        graph: FlowGraph,
        flow: str,
        origin_run_id: str,
        rerun_step: str | None,
    ) -> None:
        self.origin_run_id = origin_run_id
        self.meta, self.flow = meta, flow
        if rerun_step is not None and rerun_step not in graph:
            steps = ", ".join(n.name for n in graph)
            raise FlowlibError(f"resume: '{rerun_step}' is not a step of {flow}; steps: {steps}.")
        self.rerun = _reachable(graph, rerun_step) if rerun_step else set()
        self._done: dict[tuple[str, FramePath, int], TaskRecord] = {}
        self.parameters: TaskRecord | None = None
        tasks = meta.list_tasks(flow, origin_run_id)
        iteration = _iterations(tasks)
        for task in tasks:
            if task.status != SUCCEEDED:
                continue
            if task.step == "_parameters":
                self.parameters = task
                continue
            frames = [ForeachFrame.from_dict(f) for f in task.foreach_stack]
            self._done[(task.step, frame_path(frames), iteration[task.pathspec])] = task
        if self.parameters is None:
            raise FlowlibError(
                f"resume: run {flow}/{origin_run_id} has no stored parameters, so it never "
                "started; start a new run with 'run' instead."
            )

    def clone_source(
        self, step: str, frames: list[ForeachFrame], inputs_cloned: bool, iteration: int = 0
    ) -> TaskRecord | None:
        if not inputs_cloned or step in self.rerun:
            return None
        return self._done.get((step, frame_path(frames), iteration))

    def check_origin_kept(self) -> None:
        """Call after recording a clone: the clone references the origin's blobs without
        writing them, so a gc that marked the origin since (it is checked before the run
        starts) may be deleting them. gc marks a run before it re-reads the references of
        running runs and deletes; so a clone recorded before the mark is seen by that re-read
        (its blobs are spared), and one recorded after it is caught here."""
        origin = self.meta.get_run(self.flow, self.origin_run_id)
        if origin is None or origin.retention is not None:
            raise FlowlibError(
                f"resume: run {self.flow}/{self.origin_run_id} was marked for removal by "
                "retention (flowlib gc) while this resume was cloning its tasks, so its "
                "artifacts are going; pin the run (flowlib pin) before resuming it, or start "
                "a new one with 'run'."
            )


def _iterations(tasks: list[TaskRecord]) -> dict[str, int]:
    """Repetition of a recursive switch's step, per task: 0, then 1 + that of the task it
    repeats (its only input, of the same step). Follows the chain of inputs, so it holds for
    any task ids (the local runtime's counters, Step Functions' ``1-3.2``)."""
    parent_of = {}
    for task in tasks:
        parent = task.input_paths[0] if len(task.input_paths) == 1 else ""
        if parent.split("/")[2:3] == [task.step]:
            parent_of[task.pathspec] = parent
    found: dict[str, int] = {}
    for task in tasks:
        chain = [task.pathspec]
        while chain[-1] in parent_of and chain[-1] not in found:
            chain.append(parent_of[chain[-1]])
        base = found.get(chain[-1], 0)
        for depth, pathspec in enumerate(reversed(chain)):
            found.setdefault(pathspec, base + depth)
    return found


def _reachable(graph: FlowGraph, start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(graph[name].out_funcs)
    return seen
