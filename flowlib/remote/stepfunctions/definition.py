"""What ``create`` deploys, computed without touching AWS: the code package key, the job
definitions (one per resource shape of this deployment) and the state machine definition.

The same inputs give the same bytes (``--only-json`` is deterministic): the package key is a
content hash, job definitions are referred to by name (their latest ACTIVE revision), and
the definition is serialized with sorted keys.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowlib.current import current_user
from flowlib.datastore.hashing import content_key
from flowlib.decorators import BatchDecorator, StepDecorator
from flowlib.graph import FlowGraph
from flowlib.remote.batch import jobs
from flowlib.remote.package import build_package
from flowlib.remote.stepfunctions import entry
from flowlib.remote.stepfunctions.compiler import (
    DEFAULT_MAX_LOOP_ITERATIONS,
    CompileError,
    StepRole,
    compile_flow,
    plan_maps,
)
from flowlib.remote.stepfunctions.naming import Deployment
from flowlib.stores import Stores
from flowlib.version import __version__

TIMEOUT_MARGIN = 60  # seconds Batch gives the entry after @timeout to record the attempt


@dataclass
class Built:
    definition: dict[str, Any]
    package: bytes
    package_key: str
    # job definition name -> RegisterJobDefinition arguments
    job_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)


def _sanitize(name: str) -> str:
    return jobs._NAME_OK.sub("_", name)


def _job_definition_kwargs(deployment: Deployment, shape: jobs.JobShape) -> dict[str, Any]:
    kwargs = shape.register_kwargs()
    digest = hashlib.sha256(json.dumps(kwargs, sort_keys=True).encode()).hexdigest()[:12]
    kwargs["jobDefinitionName"] = _sanitize(f"{deployment.name}-{digest}")[:128]
    kwargs["tags"] = dict(deployment.resource_tags())
    return kwargs


def build(flow_cls: type, graph: FlowGraph, stores: Stores, deployment: Deployment,
          decorators: dict[str, dict[str, StepDecorator]], max_workers: int,
          workflow_timeout: int | None, max_num_splits: int = 100,
          distributed_map: bool = False,
          max_loop_iterations: int = DEFAULT_MAX_LOOP_ITERATIONS) -> Built:
    """Everything ``create`` needs; raises a clear error before anything is created.

    Foreach steps are inline or Distributed Maps as ``plan_maps`` decides for the widths
    ``max_num_splits`` allows; ``distributed_map`` makes them all Distributed."""
    from flowlib.environments.prepare import plan

    with_environment = sorted(plan(flow_cls, decorators))
    if with_environment:
        raise CompileError(
            f"step(s) {', '.join(with_environment)} have a @pypi/@conda environment, which "
            "Step Functions deployments do not install yet (runs with 'run --with batch' do); "
            "put the packages in the image, or run the flow with 'run'.")
    script = Path(sys.modules[flow_cls.__module__].__file__ or "").resolve()
    package, _ = build_package(script)
    package_key = content_key([package])
    profile = stores.profile
    table = profile["dynamodb_table"] if profile is not None else ""
    targets: dict[str, jobs.StepTarget] = {}
    job_definitions: dict[str, dict[str, Any]] = {}
    for node in graph:
        if "kubernetes" in decorators[node.name]:
            raise CompileError(
                f"step '{node.name}' has @kubernetes: Step Functions runs steps on AWS Batch "
                "only; use @batch or @resources for this step (or run the flow with 'run').")
        # Every state is a Batch job: a step without @batch gets the defaults, like
        # ``--with batch``; @resources sizes it.
        own = {**decorators[node.name]}
        own.setdefault("batch", BatchDecorator())
        target = jobs.step_target(node.name, own, profile)
        targets[node.name] = target
        kwargs = _job_definition_kwargs(deployment, target.shape)
        job_definitions[kwargs["jobDefinitionName"]] = kwargs
    static_env = {**stores.task_env, "FLOWLIB_USER": current_user(), "PYTHONUNBUFFERED": "1",
                  entry.ENV_RUN_TAGS: json.dumps(deployment.run_tags())}

    def task_state(step: str, role: StepRole, fallback: bool) -> dict[str, Any]:
        target = targets[step]
        step_decorators = decorators[step]
        retry = step_decorators.get("retry")
        timeout = step_decorators.get("timeout")
        command = [
            "python", "-m", "flowlib.remote.stepfunctions.entry", "--flow", graph.name,
            "--package", package_key, "--expect-version", __version__, "--step", step,
            "--parent-kind", role.parent_kind, "--parents", ",".join(role.parents),
            "--retries", str(int(retry.times) if retry is not None else 0),
            "--max-num-splits", str(max_num_splits),
        ]
        if role.split:
            command += ["--split", role.split]
        if role.control:
            command.append("--control")
        if role.items_to_s3:
            command.append("--items-to-s3")
        if role.loop:
            command += ["--loop", "--max-loop-iterations", str(max_loop_iterations)]
        if role.loop_parents:
            command += ["--loop-parents", ",".join(role.loop_parents)]
        if step_decorators.get("catch") is not None:
            command.append("--catch")
        if fallback:
            command.append("--catch-fallback")
        if timeout is not None:
            command += ["--timeout", f"{timeout.total_seconds:g}"]
        environment = [{"Name": k, "Value": v} for k, v in sorted(static_env.items())]
        # The run's own execution, also inside a Distributed Map's child executions (whose
        # $$.Execution.Name is theirs): control records and items are keyed by it.
        environment.append({"Name": entry.ENV_EXECUTION,
                            "Value.$": "$$.Execution.Name" if step == "start" else "$.execution"})
        if step == "start":
            environment.append({"Name": entry.ENV_INPUT, "Value.$": "States.JsonToString($)"})
        else:
            environment += [
                {"Name": entry.ENV_RUN, "Value.$": "$.run"},
                {"Name": entry.ENV_TASK, "Value.$": "$.path"},
                {"Name": entry.ENV_RERUN, "Value.$": "States.JsonToString($.rerun)"},
            ]
        parameters: dict[str, Any] = {
            "JobName": _sanitize(f"{deployment.name}-{step}")[:128],
            "JobQueue": target.queue,
            "JobDefinition": _job_definition_kwargs(deployment, target.shape)[
                "jobDefinitionName"],
            "ContainerOverrides": {
                "Command": command,
                "Environment": environment,
                "ResourceRequirements": [{"Type": r["type"], "Value": r["value"]}
                                         for r in target.shape.resource_requirements()],
            },
            "Tags": {**deployment.resource_tags(), "flowlib:step": step},
        }
        if timeout is not None and not fallback:
            seconds = max(jobs.MIN_ATTEMPT_SECONDS,
                          int(math.ceil(timeout.total_seconds)) + TIMEOUT_MARGIN)
            parameters["Timeout"] = {"AttemptDurationSeconds": seconds}
        return {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync",
                "Parameters": parameters}

    def control_key(step: str) -> dict[str, Any]:
        sk: dict[str, Any] = ({"S": "start#1"}
                              if step == "start"
                              else {"S.$": f"States.Format('{step}#{{}}', $.path)"})
        execution = "$$.Execution.Name" if step == "start" else "$.execution"
        return {"pk": {"S.$": f"States.Format('SFN#{graph.name}#{{}}', {execution})"},
                "sk": sk}

    def items_reader(step: str) -> dict[str, Any]:
        key = entry.items_key(profile["s3_prefix"] if profile is not None else "", graph.name,
                              "{}", step, "{}")
        return {"Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": {
                    "Bucket": (profile["s3_bucket"] if profile is not None else "") or "",
                    "Key.$": f"States.Format('{key}', $.execution, $.path)"}}

    definition = compile_flow(
        graph, decorators, task_state, control_key, table, max_workers,
        comment=f"flowlib flow {graph.name} ({deployment.name}), flowlib {__version__}",
        timeout_seconds=workflow_timeout, items_reader=items_reader,
        distributed=plan_maps(graph, max_num_splits, max_loop_iterations, distributed_map),
        max_loop_iterations=max_loop_iterations)
    return Built(definition, package, package_key, job_definitions)


def flow_script(flow_cls: type) -> Path:
    return Path(sys.modules[flow_cls.__module__].__file__ or "").resolve()
