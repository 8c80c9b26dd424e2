"""Execute one task attempt: load inputs, run the step, store artifacts and the outcome.

The same function runs in a forked worker (local runtime) and in the standalone
``python flow.py step`` command (a fresh process, possibly on another machine), so what a task
writes never depends on how it was launched.
"""

from __future__ import annotations

import sys
from typing import Any

from flowlib.current import current
from flowlib.datastore.artifacts import ArtifactRef
from flowlib.exceptions import FlowlibError
from flowlib.graph import FlowGraph, StepNode
from flowlib.metadata.records import FAILED, SUCCEEDED
from flowlib.runtime.errors import StepException, error_record, user_traceback
from flowlib.runtime.inputs import Inputs
from flowlib.runtime.spec import TaskSpec
from flowlib.runtime.state import ForeachFrame, TaskState
from flowlib.stores import Stores

PARAMETERS_STEP = "_parameters"


def execute_task(flow_cls: type, graph: FlowGraph, stores: Stores, spec: TaskSpec) -> bool:
    """Run the attempt and record its outcome; True if it succeeded."""
    meta = stores.metadata
    meta.start_attempt(
        spec.flow, spec.run_id, spec.step, spec.task_id, spec.attempt, restart=spec.restart
    )
    _record_resources(graph, stores, spec)
    current._set(
        flow_name=spec.flow,
        run_id=spec.run_id,
        step_name=spec.step,
        task_id=spec.task_id,
        retry_count=spec.attempt,
        origin_run_id=spec.origin_run_id,
        tags=list(spec.tags),
        namespace=None,
        parameter_names=[],
    )
    try:
        artifacts, transition = _run_step(flow_cls, graph, stores, spec)
    except BaseException as exc:  # noqa: BLE001 - every failure of the attempt is recorded
        if isinstance(exc, FlowlibError):
            print(f"flowlib: {exc}", file=sys.stderr)
        else:
            sys.stderr.write(user_traceback(exc))
        sys.stderr.flush()
        meta.finish_attempt(
            spec.flow,
            spec.run_id,
            spec.step,
            spec.task_id,
            spec.attempt,
            FAILED,
            {},
            None,
            error_record(exc),
        )
        return False
    meta.finish_attempt(
        spec.flow,
        spec.run_id,
        spec.step,
        spec.task_id,
        spec.attempt,
        SUCCEEDED,
        artifacts,
        transition,
        None,
    )
    return True


def _record_resources(graph: FlowGraph, stores: Stores, spec: TaskSpec) -> None:
    """What the attempt runs on, for ``Run.cost`` (flowlib.cost). Informational: a failure to
    record it never fails the task."""
    from flowlib.cost.resources import attempt_resources

    try:
        node = graph[spec.step] if spec.step != PARAMETERS_STEP else None
        decorators = node.decorators if node is not None else []
        stores.metadata.set_attempt_resources(
            spec.flow, spec.run_id, spec.step, spec.task_id, spec.attempt,
            attempt_resources(decorators),
        )
    except Exception:  # noqa: BLE001, S110 - cost data is best effort
        pass


def _run_step(
    flow_cls: type, graph: FlowGraph, stores: Stores, spec: TaskSpec
) -> tuple[dict[str, ArtifactRef], dict[str, Any]]:
    node = graph[spec.step]
    meta = stores.metadata
    store = stores.artifacts(spec.flow)
    parents = [_parent_refs(meta, path) for path in spec.input_paths]
    param_names = _parameter_names(flow_cls)
    current._set(parameter_names=sorted(param_names))
    if node.is_join:
        # A join inherits only the run's parameters (read from the run's own parameters task,
        # so a join over an empty foreach still has them).
        params = _parent_refs(meta, f"{spec.flow}/{spec.run_id}/{PARAMETERS_STEP}/0")
        inherited = {k: v for k, v in params.items() if k in param_names}
    else:
        inherited = parents[0] if parents else {}

    split_cache: dict[str, Any] = {}

    def split_values(frame: ForeachFrame) -> Any:
        if frame.split_task not in split_cache:
            refs = _parent_refs(meta, frame.split_task)
            split_cache[frame.split_task] = store.load_cached(
                refs[frame.var], frame.var, frame.split_task
            )
        return split_cache[frame.split_task]

    state = TaskState(
        spec.step, spec.pathspec, store, inherited, spec.frames, node.is_join, split_values
    )
    flow = flow_cls(use_cli=False)
    object.__setattr__(flow, "_task", state)
    func = getattr(flow, spec.step)

    if spec.caught_error is not None:
        _fallback(flow, node, spec)
    elif node.is_join:
        views = [
            Inputs.view(path, refs, store, _frames_of(meta, path), split_values)
            for path, refs in zip(spec.input_paths, parents, strict=True)
        ]
        func(Inputs(views))
    else:
        func()

    transition = _resolve_transition(flow, node, state, spec)
    artifacts = _persist(flow, state, spec)
    return artifacts, transition


def _fallback(flow: Any, node: StepNode, spec: TaskSpec) -> None:
    """@catch's last attempt: don't run the step; record the error and go on as the graph says."""
    catch = next(d for d in node.decorators if d.name == "catch")
    if catch.var:
        setattr(flow, catch.var, StepException.from_record(spec.caught_error or {}))
    state: TaskState = flow._task
    from flowlib.flowspec import Transition

    if node.transition == "switch":
        raise FlowlibError(
            f"Step '{node.name}' failed and @catch cannot choose a branch of its condition "
            "without the step's result."
        )
    state.transition = Transition(list(node.out_funcs), node.foreach_param, None, None)
    if node.transition == "foreach" and node.foreach_param not in state.inherited:
        setattr(flow, node.foreach_param, [])


def _resolve_transition(
    flow: Any, node: StepNode, state: TaskState, spec: TaskSpec
) -> dict[str, Any]:
    transition = state.transition
    if node.name == "end":
        if transition is not None:
            raise FlowlibError("The end step must not call self.next().")
        return {"next": []}
    if transition is None:
        raise FlowlibError(
            f"Step '{node.name}' finished without calling self.next(); "
            f"end it with self.next(self.{node.out_funcs[0] if node.out_funcs else '<step>'})."
        )
    if transition.targets != list(dict.fromkeys(node.out_funcs)) and node.transition != "switch":
        expected = ", ".join(node.out_funcs)
        raise FlowlibError(
            f"Step '{node.name}' called self.next({', '.join(transition.targets)}) but its "
            f"source says self.next({expected}); a step's transition must be a single, "
            "unconditional self.next() at the end of the step."
        )
    if transition.foreach != node.foreach_param or transition.condition != node.condition:
        raise FlowlibError(
            f"Step '{node.name}': self.next() arguments at run time differ from its source."
        )
    result: dict[str, Any] = {"next": list(transition.targets)}
    if node.transition == "foreach":
        result["foreach"] = node.foreach_param
        result["num_splits"] = _num_splits(flow, node, spec)
    elif node.transition == "switch":
        value = getattr(flow, node.condition)
        cases = transition.switch_cases or {}
        target = cases.get(str(value))
        if target is None and isinstance(value, bool):
            target = cases.get(str(value).lower())
        if target is None:
            choices = ", ".join(repr(k) for k in cases)
            raise FlowlibError(
                f"Step '{node.name}': condition '{node.condition}' is {value!r}, which matches "
                f"no branch; expected one of {choices}."
            )
        result["next"] = [target]
        result["condition"] = node.condition
        result["branch"] = str(value)
    return result


def _num_splits(flow: Any, node: StepNode, spec: TaskSpec) -> int:
    name = node.foreach_param
    values = getattr(flow, name)
    if not hasattr(values, "__len__") or not hasattr(values, "__getitem__"):
        raise FlowlibError(
            f"Step '{node.name}': foreach='{name}' needs a list-like value (with len() and "
            f"indexing), got {type(values).__name__}; wrap it: self.{name} = list(...)."
        )
    count = len(values)
    if count == 0 and spec.caught_error is None:
        raise FlowlibError(
            f"Step '{node.name}': foreach='{name}' is empty, so there is nothing to fan out to. "
            "Make sure the list has items, or branch around the foreach with a condition."
        )
    if count > spec.max_num_splits:
        raise FlowlibError(
            f"Step '{node.name}': foreach='{name}' has {count} items, more than "
            f"--max-num-splits {spec.max_num_splits}. Raise it: run --max-num-splits {count}."
        )
    return count


def _persist(flow: Any, state: TaskState, spec: TaskSpec) -> dict[str, ArtifactRef]:
    refs = dict(state.inherited)
    for name, value in vars(flow).items():
        if name.startswith("_"):
            continue
        refs[name] = state.unchanged_ref(name, value) or state.artifacts.save(
            name, value, f"step '{spec.step}' ({spec.pathspec})"
        )
    return refs


def _parent_refs(meta: Any, pathspec: str) -> dict[str, ArtifactRef]:
    flow, run_id, step, task_id = pathspec.split("/")
    return meta.get_artifacts(flow, run_id, step, task_id)


def _frames_of(meta: Any, pathspec: str) -> list[ForeachFrame]:
    flow, run_id, step, task_id = pathspec.split("/")
    record = meta.get_task(flow, run_id, step, task_id)
    return [ForeachFrame.from_dict(f) for f in (record.foreach_stack if record else [])]


def _parameter_names(flow_cls: type) -> set[str]:
    from flowlib.parameters import flow_parameters

    return set(flow_parameters(flow_cls))
