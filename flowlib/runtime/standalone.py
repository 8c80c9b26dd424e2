"""The standalone task: ``python flow.py step STEP --run-id R --task-id T --attempt N``.

Everything else the task needs (inputs, foreach position, tags, the error @catch must record)
is read from the metadata store, so the command line stays short and the same on any machine.
"""

from __future__ import annotations

import os

from flowlib.exceptions import FlowlibError
from flowlib.graph import FlowGraph
from flowlib.runtime.parent_death import die_with_launching_runtime
from flowlib.runtime.spec import TaskSpec
from flowlib.runtime.state import ForeachFrame
from flowlib.runtime.task import execute_task
from flowlib.stores import open_stores


def run_standalone(
    flow_cls: type,
    graph: FlowGraph,
    step: str,
    run_id: str,
    task_id: str,
    attempt: int,
    max_num_splits: int,
    catch_fallback: bool,
    secret_sources: list[str] | None = None,
    env_vars: dict[str, str] | None = None,
    timeout_seconds: float | None = None,
    catch_in_step: bool = False,
    catch_var: str | None = None,
) -> bool:
    die_with_launching_runtime()
    stores = open_stores()
    meta = stores.metadata
    flow = graph.name
    if step not in graph:
        raise FlowlibError(f"step: '{step}' is not a step of {flow}.")
    run = meta.get_run(flow, run_id)
    task = meta.get_task(flow, run_id, step, task_id)
    if run is None or task is None:
        raise FlowlibError(
            f"step: task {flow}/{run_id}/{step}/{task_id} is not registered in "
            f"{stores.description}; tasks are registered by the run that schedules them."
        )
    caught = None
    if catch_fallback:
        previous = [a for a in meta.list_attempts(flow, run_id, step, task_id) if a.error]
        caught = previous[-1].error if previous else {"type": "Unknown", "message": ""}
    spec = TaskSpec(
        flow,
        run_id,
        step,
        task_id,
        attempt,
        task.input_paths,
        [ForeachFrame.from_dict(f) for f in task.foreach_stack],
        max_num_splits,
        run.origin_run_id,
        run.tags,
        caught,
        secret_sources=list(secret_sources or []),
        env_vars=dict(env_vars or {}),
    )
    # AWS Batch re-runs a job whose host was lost (its retry strategy retries only that):
    # the same flowlib attempt starts again instead of consuming a user @retry.
    spec.timeout_seconds = timeout_seconds
    spec.catch_in_step = catch_in_step
    spec.catch_var = catch_var
    spec.restart = int(os.environ.get("AWS_BATCH_JOB_ATTEMPT", "1") or 1) > 1
    return execute_task(flow_cls, graph, stores, spec)
