"""``FlowSpec`` and ``@step``: how users write flows (Metaflow's names and semantics).

A flow object only holds what the step code sees. Everything about storing and loading artifacts
lives in the task state the runtime binds to it (``flowlib.runtime.state.TaskState``), so the
same flow code runs against any datastore.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from flowlib.exceptions import (
    FlowlibError,
    MergeConflictError,
    MergeMissingError,
    ReadOnlyArtifactError,
)

if TYPE_CHECKING:
    from flowlib.graph import FlowGraph
    from flowlib.runtime.state import ForeachFrame, TaskState


def step(func: Callable) -> Callable:
    """Mark a method as a step of the flow. Decorators such as ``@retry`` go above it."""
    if not callable(func) or not hasattr(func, "__code__"):
        raise FlowlibError("@step decorates a method: def name(self) or def join(self, inputs).")
    func.is_step = True
    func.name = func.__name__  # Metaflow's: ``for step in flow: step.name``
    func.decorators = list(func.__dict__.pop("_pending_decorators", []))
    return func


class Transition:
    """What ``self.next(...)`` asked for: the targets and how to reach them."""

    __slots__ = ("targets", "foreach", "condition", "switch_cases")

    def __init__(
        self,
        targets: list[str],
        foreach: str | None,
        condition: str | None,
        switch_cases: dict[str, str] | None,
    ) -> None:
        self.targets = targets
        self.foreach = foreach
        self.condition = condition
        self.switch_cases = switch_cases


class FlowSpec:
    """Base class of every flow. ``MyFlow()`` at the bottom of a flow file runs its CLI."""

    # Marks the API base for the graph layer (flowlib.graph.source.API_BASE_MARKER), which reads
    # the reserved names from here without importing this module.
    __flowlib_api__ = True
    _RESERVED = frozenset(
        {"next", "input", "index", "foreach_stack", "merge_artifacts", "name", "script_name"}
    )

    def __init__(self, use_cli: bool = True) -> None:
        object.__setattr__(self, "_task", None)
        if use_cli:
            # The one deliberate upward import of the layer contract (see the README's layout
            # and pyproject's [tool.importlinter]): ``MyFlow()`` at the bottom of a flow file
            # starts the flow's command line, as in Metaflow. Imported here, on use, so that
            # importing flowlib (or a flow in a task) never loads the CLI.
            from flowlib.cli.main import main

            main(type(self))

    # -- identity ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def script_name(self) -> str:
        module = sys.modules.get(type(self).__module__)
        return getattr(module, "__file__", "") or ""

    # -- artifacts --------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_") and name in self._RESERVED:
            raise FlowlibError(f"'{name}' is reserved by flowlib; choose another attribute name.")
        if not name.startswith("_") and name in _constant_names(type(self)):
            raise ReadOnlyArtifactError(
                f"Step code cannot assign self.{name}: '{name}' is a class-level constant of "
                f"{type(self).__name__}, stored with the run. Change it in the class body, or "
                "use another name for a value that a step computes."
            )
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: the value is a parent's artifact, loaded lazily.
        if name.startswith("_"):
            raise AttributeError(name)
        task = self.__dict__.get("_task")
        if task is None:
            raise AttributeError(f"{type(self).__name__} has no attribute '{name}'")
        value = task.load_inherited(name)
        object.__setattr__(self, name, value)
        return value

    def __delattr__(self, name: str) -> None:
        task = self.__dict__.get("_task")
        if task is not None:
            task.forget(name)
        if name in self.__dict__:
            object.__delattr__(self, name)

    def _read_parameter(self, name: str) -> Any:
        task = self.__dict__.get("_task")
        if task is None:
            raise AttributeError(f"Parameter '{name}' has a value only while a run is executing.")
        return task.load_parameter(name)

    def __iter__(self) -> Iterator[Callable]:
        """The flow's steps (bound methods with a ``name``) in graph order, as in Metaflow."""
        for node in self._graph:
            yield getattr(self, node.name)

    @property
    def _current_step(self) -> str | None:
        """The running step's name (Metaflow's attribute, which its own tests read)."""
        task = self.__dict__.get("_task")
        return task.step_name if task is not None else None

    @property
    def _foreach_stack(self) -> list[ForeachFrame]:
        """Metaflow's private list of foreach frames (``frame.var``, ``frame.index``...)."""
        return self._frames()

    @property
    def _graph(self) -> FlowGraph:
        """The flow's graph (Metaflow's ``flow._graph``): ``flow._graph["start"].type``."""
        graph = self.__dict__.get("_flow_graph")
        if graph is None:
            from flowlib.graph import FlowGraph

            graph = FlowGraph(type(self))
            object.__setattr__(self, "_flow_graph", graph)
        return graph

    # -- transitions ------------------------------------------------------------------------
    def next(self, *targets: Any, foreach: str | None = None, condition: str | None = None) -> None:
        """Name the step(s) to run after this one. Must be the last call of a step."""
        task = self._state()
        if task.transition is not None:
            raise FlowlibError(
                f"Step '{task.step_name}' called self.next() twice; call it exactly once, last."
            )
        switch_cases = None
        if condition is not None:
            if len(targets) != 1 or not isinstance(targets[0], dict):
                raise FlowlibError(
                    f"Step '{task.step_name}': condition= needs one dict of value -> self.<step>."
                )
            switch_cases = {str(k): _step_name(v, task.step_name) for k, v in targets[0].items()}
            names = list(dict.fromkeys(switch_cases.values()))
        else:
            names = [_step_name(t, task.step_name) for t in targets]
        if not names:
            raise FlowlibError(f"Step '{task.step_name}': self.next() needs at least one step.")
        task.transition = Transition(names, foreach, condition, switch_cases)

    # -- foreach ----------------------------------------------------------------------------
    @property
    def index(self) -> int | None:
        frames = self._frames()
        return frames[-1].index if frames else None

    @property
    def input(self) -> Any:
        frames = self._frames()
        if not frames:
            return None
        return self._state().foreach_value(len(frames) - 1)

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """(index, num_splits, value) of each enclosing foreach, outermost first."""
        task = self._state()
        return [
            (frame.index, frame.num_splits, task.foreach_value(depth))
            for depth, frame in enumerate(task.frames)
        ]

    def _frames(self) -> list[ForeachFrame]:
        task = self.__dict__.get("_task")
        return task.frames if task is not None else []

    # -- joins ------------------------------------------------------------------------------
    def merge_artifacts(
        self,
        inputs: Any,
        exclude: list[str] | None = None,
        include: list[str] | None = None,
    ) -> None:
        """Copy to self the artifacts whose value is the same in every input that has them.

        Artifacts already set in this step are left alone. Differing values raise
        ``MergeArtifactsError`` unless excluded (or set first in the join), as in Metaflow.
        """
        task = self._state()
        if not task.is_join:
            raise FlowlibError(
                f"merge_artifacts() works only in a join step; '{task.step_name}' is not one."
            )
        if include and exclude:
            raise FlowlibError("merge_artifacts() takes include= or exclude=, not both.")
        excluded = set(exclude or [])
        candidates: dict[str, set[str]] = {}
        for view in inputs:
            for name, ref in view._refs.items():
                candidates.setdefault(name, set()).add(ref.key)
        wanted = set(include) if include else set(candidates)
        missing = sorted(wanted - set(candidates))
        if missing:
            raise MergeMissingError(
                f"merge_artifacts(include=...): {', '.join(missing)} not found in any input.",
                missing,
            )
        already = set(k for k in self.__dict__ if not k.startswith("_"))
        conflicts = sorted(
            name
            for name in wanted
            if len(candidates[name]) > 1 and name not in excluded and name not in already
        )
        if conflicts:
            raise MergeConflictError(
                f"Step '{task.step_name}': artifacts {', '.join(conflicts)} have different values "
                "in the join's inputs, so merge_artifacts() cannot pick one. Set them in the join "
                "step before merging (e.g. self.x = max(i.x for i in inputs)) or pass "
                "exclude=[...].",
                conflicts,
            )
        for view in inputs:
            for name, ref in view._refs.items():
                if name in wanted and name not in excluded and name not in already:
                    task.inherit(name, ref)

    def _state(self) -> TaskState:
        task = self.__dict__.get("_task")
        if task is None:
            raise FlowlibError("This works only inside a running step.")
        return task


_CONSTANT_NAMES: dict[type, frozenset[str]] = {}


def _constant_names(flow_cls: type) -> frozenset[str]:
    names = _CONSTANT_NAMES.get(flow_cls)
    if names is None:
        from flowlib.parameters import flow_constants

        names = _CONSTANT_NAMES[flow_cls] = frozenset(flow_constants(flow_cls))
    return names


def _step_name(target: Any, source_step: str) -> str:
    func = getattr(target, "__func__", target)
    if not getattr(func, "is_step", False):
        raise FlowlibError(
            f"Step '{source_step}': self.next() takes steps as self.<step_name>, got {target!r}."
        )
    return func.__name__
