"""Which tasks come next: turns a finished task's recorded transition into the tasks it makes
ready (static branches, foreach fan-out, a recursive switch's next iteration, a join once all
its inputs are in).

Graph logic only: no processes and no stores. The scheduler supplies the callback that creates
a task (it owns task ids, resume's cloning and the ready queue) and the one that records a loop
stopped at its bound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from flowlib.graph import FlowGraph
from flowlib.runtime.errors import loop_limit_message
from flowlib.runtime.state import ForeachFrame


class EnqueueTask(Protocol):
    """Creates one task of ``step`` reading ``input_paths`` (the scheduler's ``_enqueue``)."""

    def __call__(
        self,
        step: str,
        input_paths: list[str],
        frames: list[ForeachFrame],
        inputs_cloned: bool,
        iteration: int = 0,
    ) -> None: ...


# (pathspec of the task that chose to repeat, its step, the sentence saying why it stopped)
LoopLimitReached = Callable[[str, str, str], None]


@dataclass
class _JoinBarrier:
    """One join task waiting for its inputs."""

    expected: int
    frames: list[ForeachFrame]  # the foreach frames the join task runs in
    arrived: dict[int, str] = field(default_factory=dict)  # input position -> pathspec
    # On resume, a join can be cloned only if every one of its inputs was cloned.
    cloned: bool = True


class Successors:
    """Decides the tasks that follow each finished task and hands them to ``enqueue``.

    It owns what that decision remembers between tasks: the joins still waiting for inputs
    and how many times each task's step has repeated through a recursive switch.
    """

    def __init__(
        self,
        graph: FlowGraph,
        enqueue: EnqueueTask,
        loop_limit_reached: LoopLimitReached,
        max_loop_iterations: int = 1000,
    ) -> None:
        self.graph = graph
        self.enqueue = enqueue
        self.loop_limit_reached = loop_limit_reached
        # Recursive switches: how many times each task's step has repeated, and the bound.
        self.max_loop_iterations = max_loop_iterations
        self.iterations: dict[str, int] = {}
        self.join_to_split = {n.matching_join: n.name for n in graph if n.matching_join}
        self.barriers: dict[tuple, _JoinBarrier] = {}
        self.end_reached = False

    def record_iteration(self, pathspec: str, iteration: int) -> None:
        """Remember that task ``pathspec`` is its step's ``iteration``-th repetition. Called by
        ``enqueue`` as soon as the task has an id: a cloned task advances at once (from inside
        ``enqueue``), and its next repetition must count from this one."""
        if iteration:
            self.iterations[pathspec] = iteration

    def advance(
        self,
        step: str,
        frames: list[ForeachFrame],
        pathspec: str,
        transition: dict,
        cloned: bool,
    ) -> None:
        """Enqueue what follows task ``pathspec`` (of ``step``, in ``frames``) given the
        transition it recorded; ``cloned`` says it was cloned from the origin run on resume."""
        if step == "end":
            self.end_reached = True
            return
        targets = transition.get("next", [])
        if transition.get("foreach"):
            count = int(transition["num_splits"])
            target = targets[0]
            if count == 0:
                join = self.graph[step].matching_join
                self.enqueue(join, [], frames, inputs_cloned=cloned)
            for index in range(count):
                frame = ForeachFrame(step, transition["foreach"], count, index, pathspec)
                self.enqueue(target, [pathspec], [*frames, frame], inputs_cloned=cloned)
            return
        for target in targets:
            if target == step:
                self._repeat(step, frames, pathspec, cloned)
            elif self.graph[target].is_join:
                self._arrive(target, step, pathspec, frames, cloned)
            else:
                self.enqueue(target, [pathspec], frames, inputs_cloned=cloned)

    def _repeat(self, step: str, frames: list[ForeachFrame], pathspec: str, cloned: bool) -> None:
        """A recursive switch chose its own step again: one more task, bounded."""
        iteration = self.iterations.get(pathspec, 0) + 1
        if iteration >= self.max_loop_iterations:
            self.loop_limit_reached(pathspec, step, loop_limit_message(step, iteration, "run"))
            return
        self.enqueue(step, [pathspec], frames, inputs_cloned=cloned, iteration=iteration)

    def _arrive(
        self, join: str, parent_step: str, pathspec: str, frames: list[ForeachFrame], cloned: bool
    ) -> None:
        """Task ``pathspec`` of ``parent_step`` is one input of ``join``: the join task is
        enqueued when its last input arrives, with the inputs in a fixed order (foreach index,
        or branch order) whatever order they finished in."""
        split = self.join_to_split.get(join)
        if split is not None and self.graph[split].transition == "foreach":
            frame = frames[-1]
            key = (join, frame.split_task)
            expected, order, out_frames = frame.num_splits, frame.index, frames[:-1]
        else:
            # One input per branch of the static split, whichever step ends the branch: a
            # branch that goes through a switch reaches the join from one of several steps.
            branches = list(dict.fromkeys(self.graph[split].out_funcs)) if split else []
            scope = self.graph.edge_scopes.get((parent_step, join), ())
            branch = scope[-1][1] if scope and scope[-1][0] == split else None
            if branch in branches:
                expected, order = len(branches), branches.index(branch)
            else:
                parents = self.graph[join].in_funcs
                expected, order = len(parents), parents.index(parent_step)
            key = (join, tuple((f.split_task, f.index) for f in frames))
            out_frames = frames
        barrier = self.barriers.setdefault(key, _JoinBarrier(expected, out_frames))
        barrier.arrived[order] = pathspec
        barrier.cloned = barrier.cloned and cloned
        if len(barrier.arrived) == barrier.expected:
            del self.barriers[key]
            inputs = [barrier.arrived[i] for i in sorted(barrier.arrived)]
            self.enqueue(join, inputs, barrier.frames, inputs_cloned=barrier.cloned)
