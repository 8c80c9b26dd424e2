"""Start or resume a run of a flow on this machine."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowlib.current import current_user
from flowlib.datastore.artifacts import ArtifactRef
from flowlib.decorators import StepDecorator
from flowlib.exceptions import FlowlibError, TaskFailedError
from flowlib.flow_config import config_env, config_values
from flowlib.flow_decorators import run_project_branch
from flowlib.graph import FlowGraph
from flowlib.metadata.liveness import effective_status, last_seen
from flowlib.metadata.records import (
    DATASTORE_TAG,
    FAILED,
    INTERRUPTED,
    RUNNING,
    SUCCEEDED,
    TaskRecord,
)
from flowlib.parameters import flow_constants, flow_parameters
from flowlib.runtime.console import Console
from flowlib.runtime.environments import StepEnvironmentLauncher, prepare_step_environments
from flowlib.runtime.launcher import ForkLauncher, SubprocessLauncher
from flowlib.runtime.protocol import Launcher
from flowlib.runtime.resume import ResumePlan
from flowlib.runtime.router import LauncherRouter, backends_used, effective_decorators
from flowlib.runtime.scheduler import RunInterrupted, Scheduler
from flowlib.runtime.task import PARAMETERS_STEP, execute_task
from flowlib.stores import Stores, open_stores
from flowlib.tags import system_tags, validate_tags


@dataclass
class RunOptions:
    tags: list[str] = field(default_factory=list)
    max_workers: int = 16
    max_num_splits: int = 100
    decorators: list[StepDecorator] = field(default_factory=list)
    launcher: str = "fork"  # or "subprocess": the standalone command, as remote backends run it
    quiet: bool = False
    origin_run_id: str | None = None
    resume_step: str | None = None
    max_loop_iterations: int = 1000  # repetitions of a recursive switch's step
    run_id_file: str | None = None  # written as soon as the run id is known (Metaflow's option)


def datastore_tags(root_url: str) -> list[str]:
    """Where the run's artifacts and logs go, recorded with the run: readers find them there
    even after the profile's bucket, prefix or folder changed."""
    tag = f"{DATASTORE_TAG}{root_url}"
    return [tag] if root_url and len(tag) <= 255 else []


def execute_run(
    flow_cls: type,
    graph: FlowGraph,
    raw_parameters: dict[str, str | None],
    options: RunOptions,
) -> str:
    """Run the flow; return the run id. Raises TaskFailedError if a task failed."""
    stores = open_stores()
    meta = stores.metadata
    flow = graph.name
    tags = validate_tags(options.tags)
    resume = None
    if options.origin_run_id is not None:
        if any(v is not None for v in raw_parameters.values()):
            raise FlowlibError(
                "resume reuses the origin run's parameters; drop the parameter options, or "
                "start a new run with 'run' to change them."
            )
        # Both stores, for a resume as for a new run: a store that is missing or refuses
        # access fails here, with one message, before anything is written.
        stores.preflight(flow)
        origin = meta.get_run(flow, options.origin_run_id)
        if origin is None:
            raise FlowlibError(
                f"resume: run {flow}/{options.origin_run_id} does not exist in "
                f"{stores.description}."
            )
        if origin.retention is not None:
            raise FlowlibError(
                f"resume: run {flow}/{options.origin_run_id} was removed by retention "
                "(flowlib gc); resume a run that is kept, or start a new one with 'run'."
            )
        resume = ResumePlan(meta, graph, flow, options.origin_run_id, options.resume_step)
        _check_resumed_configs(flow_cls, stores, resume)
    else:
        values = parameter_values(flow_cls, raw_parameters)
        stores.preflight(flow)
        # Stored before the run exists: a store that refuses writes fails here, leaving no run
        # stuck as "running" behind.
        store = stores.artifacts(flow)
        param_refs = {
            name: store.save(name, value, f"the run's parameters ({flow})")
            for name, value in values.items()
        }

    # Task processes started afresh (standalone, Batch, Kubernetes) get the run's Config values.
    stores.task_env.update(config_env(flow_cls))
    console = Console(options.quiet)
    # @pypi/@conda environments locked and built before the run exists (a bad package fails
    # here, for every step at once); nothing at all for a flow without them.
    environments = prepare_step_environments(
        flow_cls, stores, effective_decorators(graph, options.decorators), console
    )
    blobs = stores.artifacts(flow).blobs
    blobs.remove_stale_temp_files()
    project = run_project_branch(flow_cls, current_user())
    run = meta.create_run(
        flow, current_user(),
        system_tags() + datastore_tags(blobs.root_url) + (project.tags if project else []), tags,
        options.origin_run_id,
    )
    if options.run_id_file:
        _write_run_id(options.run_id_file, run.run_id)
    origin_note = f" (resuming run {options.origin_run_id})" if resume else ""
    console.info(f"Run {flow}/{run.run_id} starting{origin_note} on {stores.description}.")
    params_path = f"{flow}/{run.run_id}/{PARAMETERS_STEP}/0"
    if resume is not None:
        meta.clone_task(resume.parameters, run.run_id, "0", [], [])
    else:
        register_parameters(stores, flow, run.run_id, param_refs, graph)
    launcher = _launcher(flow_cls, graph, stores, options, environments)
    if resume is not None:
        _stop_orphaned_remote_tasks(launcher, origin, console)
    scheduler = Scheduler(
        graph,
        stores,
        flow,
        run.run_id,
        launcher,
        console,
        max_workers=options.max_workers,
        max_num_splits=options.max_num_splits,
        decorators=effective_decorators(graph, options.decorators),
        tags=tags,
        resume=resume,
        max_loop_iterations=options.max_loop_iterations,
    )
    if resume is not None:
        scheduler.mark_cloned(params_path)
    try:
        ok = scheduler.run(params_path)
    except RunInterrupted:
        _record_end(meta, flow, run.run_id, INTERRUPTED)
        raise
    except BaseException:
        _record_end(meta, flow, run.run_id, FAILED)
        raise
    meta.update_run(flow, run.run_id, SUCCEEDED if ok else FAILED, time.time())
    console.flush()
    if not ok:
        raise TaskFailedError(_failure_message(flow, run.run_id, scheduler))
    console.info(
        f"Run {flow}/{run.run_id} succeeded in {console.elapsed:.2f} s. "
        f"Inspect it with: Run('{flow}/{run.run_id}')"
    )
    return run.run_id


def _check_resumed_configs(flow_cls: type, stores: Stores, resume: ResumePlan) -> None:
    """A resumed run keeps the origin's Config values (they are cloned with its parameters);
    the flow loaded now must read the same ones, or new tasks would see other values."""
    source = resume.parameters
    refs = stores.metadata.get_artifacts(source.flow, source.run_id, source.step, source.task_id)
    store = stores.artifacts(source.flow)
    for attr, value in config_values(flow_cls).items():
        if attr in refs and store.load(refs[attr], attr, source.pathspec) != value:
            raise FlowlibError(
                f"resume: Config '{attr}' now differs from the one run {source.run_id} used; "
                "a resumed run keeps its origin's configuration. Resume with the same file "
                f"(--config {attr} FILE before 'resume'), or start a new run with 'run'."
            )


def _write_run_id(path: str, run_id: str) -> None:
    try:
        with open(path, "w") as handle:
            handle.write(run_id)
    except OSError as exc:
        raise FlowlibError(
            f"--run-id-file {path}: cannot write it ({exc.strerror}); give a writable path."
        ) from None


def _stop_orphaned_remote_tasks(launcher: LauncherRouter, origin: Any, console: Console) -> None:
    """Before a resume: remote tasks (Batch, Kubernetes) of an origin run whose runtime died
    still run, unwatched; stop them so they neither run twice nor write late. Local tasks
    died with their runtime (parent_death). A run whose runtime is still alive is left alone."""
    pathspec = f"{origin.flow}/{origin.run_id}"
    if effective_status(origin) == RUNNING:
        console.warn(
            f"Run {pathspec} still looks alive (heartbeat {time.time() - last_seen(origin):.0f} "
            "s ago): its remote tasks are left running."
        )
        return
    for backend, count in launcher.stop_remote_tasks_of(origin.run_id).items():
        if count:
            console.info(f"Stopped {count} {backend} task(s) that run {pathspec} left running.")


def _record_end(meta: Any, flow: str, run_id: str, status: str) -> None:
    """Record how a run that stopped on an error ended, without hiding that error: when the
    store itself is what failed (disk full, outage), the run keeps its last heartbeat and the
    client reports it as crashed; 'resume' continues it either way."""
    try:
        meta.update_run(flow, run_id, status, time.time())
    except FlowlibError:
        pass


def _failure_message(flow: str, run_id: str, scheduler: Scheduler) -> str:
    if not scheduler.failures:
        return f"Run {flow}/{run_id} stopped before its end step."
    lines = [f"Run {flow}/{run_id} failed:"]
    for failure in scheduler.failures:
        error = failure.error
        lines.append(
            f"  step '{failure.step}' ({failure.pathspec}): {error.get('type')}: "
            f"{error.get('message')}"
        )
    first = scheduler.failures[0].pathspec
    lines.append(
        f"See the output with: logs {first}. Fix the step, then re-run only what failed with: "
        f"resume --origin-run-id {run_id}"
    )
    return "\n".join(lines)


def _resolve_parameters(flow_cls: type, raw: dict[str, str | None]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    problems: list[str] = []
    for attr, param in flow_parameters(flow_cls).items():
        try:
            values[attr] = param.resolve(raw.get(attr))
        except FlowlibError as exc:
            problems.append(str(exc))
    if problems:
        from flowlib.exceptions import ParameterError

        raise ParameterError("\n".join(problems))
    return values


def parameter_values(flow_cls: type, raw: dict[str, str | None]) -> dict[str, Any]:
    """What a new run stores as its parameters task's artifacts: the flow's class constants,
    its Config values and its Parameters resolved from ``raw`` (command line, environment,
    defaults). Every orchestrator starting a run uses this, so runs agree wherever started."""
    return {
        **flow_constants(flow_cls),
        **config_values(flow_cls),
        **_resolve_parameters(flow_cls, raw),
    }


def register_parameters(
    stores: Stores, flow: str, run_id: str, refs: dict[str, ArtifactRef],
    graph: FlowGraph | None,
) -> None:
    """Record the run's parameters task (``_parameters/0``) as succeeded with ``refs``."""
    transition: dict[str, Any] = {"next": ["start"]}
    if graph is not None:
        from flowlib.cards.graph_view import describe

        # The graph rides on the parameters task's transition, so the web UI can draw a
        # run's steps (also those not started yet) without the flow's code.
        transition["graph"] = describe(graph)
    meta = stores.metadata
    meta.create_tasks(
        [TaskRecord(flow, run_id, PARAMETERS_STEP, "0", "pending", time.time(), [], [])]
    )
    meta.start_attempt(flow, run_id, PARAMETERS_STEP, "0", 0)
    meta.finish_attempt(
        flow, run_id, PARAMETERS_STEP, "0", 0, SUCCEEDED, refs, transition, None
    )


# How tasks of steps without a remote backend start (--launcher, FLOWLIB_LAUNCHER).
_LOCAL_LAUNCHERS: dict[str, Callable[[type, FlowGraph, Stores], Launcher]] = {
    "fork": lambda flow_cls, graph, stores: ForkLauncher(
        lambda spec: execute_task(flow_cls, graph, stores, spec)
    ),
    "subprocess": lambda flow_cls, graph, stores: SubprocessLauncher(
        os.path.abspath(sys.modules[flow_cls.__module__].__file__), stores.task_env
    ),
}


def _launcher(
    flow_cls: type,
    graph: FlowGraph,
    stores: Stores,
    options: RunOptions,
    environments: tuple[dict[str, Path], Path | None] = ({}, None),
) -> LauncherRouter:
    decorators = effective_decorators(graph, options.decorators)
    kind = os.environ.get("FLOWLIB_LAUNCHER", options.launcher)
    if kind not in _LOCAL_LAUNCHERS:
        raise FlowlibError(f"Unknown launcher '{kind}'; use {' or '.join(_LOCAL_LAUNCHERS)}.")
    # Remote launchers run threads (log streaming, status polling); forking a threaded process
    # is unsafe, so local tasks of such a run start as fresh interpreters instead.
    if backends_used(decorators):
        kind = "subprocess"
    local = _LOCAL_LAUNCHERS[kind](flow_cls, graph, stores)
    pythons, flowlib_path = environments
    if pythons:
        script = os.path.abspath(sys.modules[flow_cls.__module__].__file__)
        local = StepEnvironmentLauncher(local, pythons, flowlib_path, script, stores.task_env)
    return LauncherRouter(local, flow_cls, graph, stores, decorators)
