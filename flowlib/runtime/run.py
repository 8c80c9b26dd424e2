"""Start or resume a run of a flow on this machine."""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from flowlib.current import current_user
from flowlib.datastore.artifacts import ArtifactRef
from flowlib.decorators import StepDecorator
from flowlib.exceptions import FlowlibError, TaskFailedError
from flowlib.graph import FlowGraph
from flowlib.metadata.records import FAILED, INTERRUPTED, SUCCEEDED, TaskRecord
from flowlib.parameters import flow_parameters
from flowlib.runtime.console import Console
from flowlib.runtime.launcher import ForkLauncher, SubprocessLauncher
from flowlib.runtime.resume import ResumePlan
from flowlib.runtime.router import LauncherRouter, backends_used, effective_decorators
from flowlib.runtime.scheduler import RunInterrupted, Scheduler
from flowlib.runtime.task import PARAMETERS_STEP, execute_task
from flowlib.stores import Stores, open_stores
from flowlib.version import __version__


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


def system_tags() -> list[str]:
    return [
        f"user:{current_user()}",
        "runtime:flowlib",
        f"flowlib_version:{__version__}",
        f"python_version:{platform.python_version()}",
    ]


def validate_tags(tags: list[str]) -> list[str]:
    for tag in tags:
        if not tag or len(tag) > 255 or tag != tag.strip():
            raise FlowlibError(f"Tag {tag!r} is invalid: use 1-255 characters without padding.")
    return list(dict.fromkeys(tags))


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
    else:
        values = _resolve_parameters(flow_cls, raw_parameters)
        meta.preflight()
        # Stored before the run exists: a store that refuses writes fails here, leaving no run
        # stuck as "running" behind.
        store = stores.artifacts(flow)
        param_refs = {
            name: store.save(name, value, f"the run's parameters ({flow})")
            for name, value in values.items()
        }

    run = meta.create_run(flow, current_user(), system_tags(), tags, options.origin_run_id)
    console = Console(options.quiet)
    origin_note = f" (resuming run {options.origin_run_id})" if resume else ""
    console.info(f"Run {flow}/{run.run_id} starting{origin_note} on {stores.description}.")
    params_path = f"{flow}/{run.run_id}/{PARAMETERS_STEP}/0"
    if resume is not None:
        meta.clone_task(resume.parameters, run.run_id, "0", [], [])
    else:
        _register_parameters(stores, flow, run.run_id, param_refs)
    scheduler = Scheduler(
        graph,
        stores,
        flow,
        run.run_id,
        _launcher(flow_cls, graph, stores, options),
        console,
        max_workers=options.max_workers,
        max_num_splits=options.max_num_splits,
        decorators=effective_decorators(graph, options.decorators),
        tags=tags,
        resume=resume,
    )
    if resume is not None:
        scheduler.mark_cloned(params_path)
    try:
        ok = scheduler.run(params_path)
    except RunInterrupted:
        meta.update_run(flow, run.run_id, INTERRUPTED, time.time())
        raise
    except BaseException:
        meta.update_run(flow, run.run_id, FAILED, time.time())
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


def _register_parameters(
    stores: Stores, flow: str, run_id: str, refs: dict[str, ArtifactRef]
) -> None:
    meta = stores.metadata
    meta.create_tasks(
        [TaskRecord(flow, run_id, PARAMETERS_STEP, "0", "pending", time.time(), [], [])]
    )
    meta.start_attempt(flow, run_id, PARAMETERS_STEP, "0", 0)
    meta.finish_attempt(
        flow, run_id, PARAMETERS_STEP, "0", 0, SUCCEEDED, refs, {"next": ["start"]}, None
    )


def _launcher(flow_cls: type, graph: FlowGraph, stores: Stores, options: RunOptions) -> Any:
    decorators = effective_decorators(graph, options.decorators)
    launcher = os.environ.get("FLOWLIB_LAUNCHER", options.launcher)
    if launcher not in ("fork", "subprocess"):
        raise FlowlibError(f"Unknown launcher '{launcher}'; use fork or subprocess.")
    # Remote launchers run threads (log streaming, status polling); forking a threaded process
    # is unsafe, so local tasks of such a run start as fresh interpreters instead.
    if launcher == "subprocess" or backends_used(decorators):
        script = os.path.abspath(sys.modules[flow_cls.__module__].__file__)
        local: Any = SubprocessLauncher(script, stores.task_env)
    else:
        local = ForkLauncher(lambda spec: execute_task(flow_cls, graph, stores, spec))
    if not backends_used(decorators):
        return local
    return LauncherRouter(local, flow_cls, graph, stores, decorators)
