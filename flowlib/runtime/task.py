"""Execute one task attempt: load inputs, run the step, store artifacts and the outcome.

The same function runs in a forked worker (local runtime) and in the standalone
``python flow.py step`` command (a fresh process, possibly on another machine), so what a task
writes never depends on how it was launched.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flowlib.current import current, current_user
from flowlib.datastore.artifacts import ArtifactRef
from flowlib.environments.record import RECORD_ARTIFACT as ENVIRONMENT_ARTIFACT
from flowlib.environments.record import current_environment_record
from flowlib.exceptions import FlowlibError, TimeoutException
from flowlib.flow_decorators import ProjectBranch, flow_project, run_project_branch
from flowlib.graph import FlowGraph, StepNode
from flowlib.metadata.records import FAILED, SUCCEEDED
from flowlib.runtime.errors import StepException, crash_record, error_record, user_traceback
from flowlib.runtime.heartbeat import AttemptHeartbeat
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
    with AttemptHeartbeat(meta, spec):
        return _execute_started(flow_cls, graph, stores, spec)


def _project_fields(flow_cls: type, stores: Stores, spec: TaskSpec) -> dict[str, Any]:
    """current.project_name, branch_name, ... of a @project flow (else None).

    The branch is the run's (its ``project_branch:`` system tag, recorded by whoever started
    it: ``run`` from FLOWLIB_BRANCH/FLOWLIB_PRODUCTION, a Step Functions deployment from its
    branch), not this process's environment: a task on Batch, Kubernetes or Step Functions
    does not see the launching machine's variables."""
    flow = spec.flow
    project = None
    if flow_project(flow_cls) is not None:
        record = stores.metadata.get_run(flow, spec.run_id)
        recorded = next((t.split(":", 1)[1] for t in (record.system_tags if record else [])
                         if t.startswith("project_branch:")), None)
        project = (ProjectBranch(flow_project(flow_cls), recorded) if recorded
                   else run_project_branch(flow_cls, current_user()))
    if project is None:
        return {}
    return {"project_name": project.project, "branch_name": project.branch,
            "project_flow_name": project.flow_name(flow),
            "is_production": project.is_production, "is_user_branch": project.is_user_branch}


def _execute_started(flow_cls: type, graph: FlowGraph, stores: Stores, spec: TaskSpec) -> bool:
    meta = stores.metadata
    current._set(
        flow_name=spec.flow,
        run_id=spec.run_id,
        step_name=spec.step,
        task_id=spec.task_id,
        retry_count=spec.attempt,
        origin_run_id=spec.origin_run_id,
        tags=set(spec.tags),  # the run's user tags, a set as in Metaflow
        namespace=f"user:{current_user()}",  # the default namespace, as in Metaflow
        parameter_names=[],
        **_project_fields(flow_cls, stores, spec),
    )
    environment = None
    started = False
    cards = _start_cards(graph, stores, spec)
    try:
        # Before user code: a bad secret source fails the attempt here, naming the source.
        environment = _start_environment(stores, spec)
        started = True
        artifacts, transition, caught = _run_step(flow_cls, graph, stores, spec)
        _record_environment(stores, spec, environment, artifacts)
    except BaseException as exc:  # noqa: BLE001 - every failure of the attempt is recorded
        mask = environment.masker.mask_record if environment is not None else (lambda r: r)
        cards.finish(FAILED)
        if isinstance(exc, FlowlibError):
            print(mask(f"flowlib: {exc}"), file=sys.stderr)
        else:
            sys.stderr.write(mask(user_traceback(exc)))
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
            mask(_error(exc, started)),
        )
        if environment is not None:
            environment.restore()
        return False
    if environment is not None:
        environment.restore()
    cards.finish(SUCCEEDED)
    meta.finish_attempt(
        spec.flow,
        spec.run_id,
        spec.step,
        spec.task_id,
        spec.attempt,
        SUCCEEDED,
        artifacts,
        transition,
        caught,
    )
    return True


def _error(exc: BaseException, user_code_started: bool) -> dict[str, Any]:
    """A bad @secrets source is a user error found before the step ran: no traceback."""
    if not user_code_started and isinstance(exc, FlowlibError):
        return crash_record(type(exc).__name__, str(exc))
    return error_record(exc)


def _start_environment(stores: Stores, spec: TaskSpec) -> Any:
    """Apply @environment and @secrets for this attempt (None when the step has neither).
    @catch's fallback runs no user code, so it reads no secret (a missing one must not stop
    the fallback)."""
    if (not spec.secret_sources and not spec.env_vars) or spec.caught_error is not None:
        return None
    from flowlib.taskenv.apply import apply_task_environment, reader_for_profile

    reader = reader_for_profile(stores.profile) if spec.secret_sources else None
    return apply_task_environment(spec.secret_sources, spec.env_vars, reader)


def _record_environment(
    stores: Stores, spec: TaskSpec, environment: Any, artifacts: dict[str, ArtifactRef]
) -> None:
    """Record the task's variables and secret *source names* with it (never a value); a
    parent's record is not inherited."""
    from flowlib.taskenv.apply import RECORD_ARTIFACT

    artifacts.pop(RECORD_ARTIFACT, None)
    record = environment.record() if environment is not None else None
    if record is not None:
        artifacts[RECORD_ARTIFACT] = stores.artifacts(spec.flow).save(
            RECORD_ARTIFACT, record, f"step '{spec.step}' ({spec.pathspec})"
        )
    _record_python_environment(stores, spec, artifacts)


def _record_python_environment(
    stores: Stores, spec: TaskSpec, artifacts: dict[str, ArtifactRef]
) -> None:
    """A task running in a @pypi/@conda environment records its key, python and exact
    packages (``Task.environment``); a parent's record is not inherited."""
    artifacts.pop(ENVIRONMENT_ARTIFACT, None)
    record = current_environment_record()
    if record is not None:
        artifacts[ENVIRONMENT_ARTIFACT] = stores.artifacts(spec.flow).save(
            ENVIRONMENT_ARTIFACT, record, f"step '{spec.step}' ({spec.pathspec})"
        )


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
) -> tuple[dict[str, ArtifactRef], dict[str, Any], dict[str, Any] | None]:
    node = graph[spec.step]
    meta = stores.metadata
    store = stores.artifacts(spec.flow)
    parents, parent_frames = _read_inputs(meta, spec.input_paths, node.is_join)
    param_names = _parameter_names(flow_cls)
    from flowlib.parameters import flow_parameters

    current._set(parameter_names=sorted(flow_parameters(flow_cls)))
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
    current.card.bind_flow(flow)  # the default card shows this task's artifacts
    func = getattr(flow, spec.step)

    caught: dict[str, Any] | None = None
    if spec.caught_error is not None:
        _fallback(flow, node, spec, spec.caught_error)
    else:
        try:
            with step_timeout(spec):
                if node.is_join:
                    views = [
                        Inputs.view(path, refs, store, frames, split_values)
                        for path, refs, frames in zip(spec.input_paths, parents, parent_frames,
                                                      strict=True)
                    ]
                    func(Inputs(views))
                else:
                    func()
        except Exception as exc:
            if not spec.catch_in_step:
                raise
            # @catch on the last attempt: keep what the step set before it failed, store the
            # exception and go on as the graph says (Metaflow's behaviour).
            caught = error_record(exc)
            catch = next((d for d in node.decorators if d.name == "catch"), None)
            if catch is None or catch.print_exception:
                sys.stderr.write(user_traceback(exc))
                print(f"flowlib: @catch handled {caught['type']}: {exc}", file=sys.stderr)
            state.transition = None
            _fallback(flow, node, spec, caught)

    transition = _resolve_transition(flow, node, state, spec)
    artifacts = _persist(flow, state, spec)
    return artifacts, transition, caught


class _CardHooks:
    """The step's @card decorators for this attempt (see flowlib/cards/collector.py)."""

    def __init__(self, active: bool) -> None:
        self.active = active

    def finish(self, status: str) -> None:
        if self.active:
            from flowlib.cards import collector

            collector.finish(status)


def _start_cards(graph: FlowGraph, stores: Stores, spec: TaskSpec) -> _CardHooks:
    decorators = [d for d in graph[spec.step].decorators if getattr(d, "name", "") == "card"]
    if not decorators:
        return _CardHooks(False)
    from flowlib.cards import collector
    from flowlib.cards.store import CardWriter

    collector.start(decorators, CardWriter(stores, spec, graph))
    return _CardHooks(True)


@contextmanager
def step_timeout(spec: TaskSpec) -> Iterator[None]:
    """@timeout: raise TimeoutException inside the step when its time is up (SIGALRM), so the
    step's own handlers and @catch see it; the scheduler kills the process only if the step
    still runs a grace period later."""
    seconds = spec.timeout_seconds
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutException(
            f"Step '{spec.step}' exceeded its @timeout of {seconds:g} s ({spec.pathspec})."
        )

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _fallback(flow: Any, node: StepNode, spec: TaskSpec, error: dict[str, Any]) -> None:
    """@catch: record the error and go on as the graph says (after the step raised, or in the
    fallback attempt that follows an attempt that died without recording itself)."""
    catch = next((d for d in node.decorators if d.name == "catch"), None)
    var = spec.catch_var or (catch.var if catch is not None else None)
    if var:
        setattr(flow, var, StepException.from_record(error))
    state: TaskState = flow._task
    from flowlib.flowspec import Transition

    if node.name == "end":
        return  # the run ends here, with the exception stored (as in Metaflow)
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


def _read_inputs(meta: Any, paths: list[str], join: bool
                 ) -> tuple[list[dict[str, ArtifactRef]], list[list[ForeachFrame]]]:
    """Each input's artifacts and, for a join, its foreach frames: one batched read of all
    inputs (``get_tasks``/``get_tasks_artifacts``), so a join of a 1,000-way foreach on DynamoDB
    does not wait on 3,000 round trips one after another."""
    runs: dict[tuple[str, str], list[int]] = {}  # (flow, run id) -> positions in ``paths``
    for position, path in enumerate(paths):
        runs.setdefault(tuple(path.split("/")[:2]), []).append(position)
    refs: list[dict[str, ArtifactRef]] = [{} for _ in paths]
    frames: list[list[ForeachFrame]] = [[] for _ in paths]
    for (flow, run_id), positions in runs.items():
        keys = [tuple(paths[i].split("/")[2:]) for i in positions]
        for i, found in zip(positions, meta.get_tasks_artifacts(flow, run_id, keys),
                            strict=True):
            refs[i] = found
        if join:
            for i, record in zip(positions, meta.get_tasks(flow, run_id, keys), strict=True):
                frames[i] = [ForeachFrame.from_dict(f)
                             for f in (record.foreach_stack if record else [])]
    return refs, frames


def _parameter_names(flow_cls: type) -> set[str]:
    """What every task inherits from the run's parameters task: parameters and constants."""
    from flowlib.flow_config import flow_configs
    from flowlib.parameters import flow_constants, flow_parameters

    return set(flow_parameters(flow_cls)) | set(flow_constants(flow_cls)) | set(
        flow_configs(flow_cls)
    )
