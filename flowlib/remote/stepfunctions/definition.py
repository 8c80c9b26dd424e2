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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowlib.current import current_user
from flowlib.datastore.hashing import content_key
from flowlib.decorators import BatchDecorator, StepDecorator
from flowlib.graph import FlowGraph
from flowlib.remote.batch import jobs
from flowlib.remote.package import CodePackage, build_package
from flowlib.remote.runtime import ContainerCode, blob_prefix, container_code
from flowlib.remote.stepfunctions import entry, run_jobs
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
# Characters of a job's overrides kept for the values Step Functions fills in at run time (run
# id, task path, reruns; the start task's execution input), when checking AWS Batch's limit.
RUNTIME_VALUES_RESERVE = 1024


@dataclass
class Built:
    definition: dict[str, Any]
    package: bytes
    package_key: str
    # job definition name -> RegisterJobDefinition arguments
    job_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Blobs the state machine's commands name (code package, runtime and environment
    # bundles): held from gc while the deployment exists.
    blob_keys: set[str] = field(default_factory=set)


def _sanitize(name: str) -> str:
    return jobs._NAME_OK.sub("_", name)


def _job_definition_kwargs(deployment: Deployment, shape: jobs.JobShape) -> dict[str, Any]:
    kwargs = shape.register_kwargs()
    digest = hashlib.sha256(json.dumps(kwargs, sort_keys=True).encode()).hexdigest()[:12]
    kwargs["jobDefinitionName"] = _sanitize(f"{deployment.name}-{digest}")[:128]
    kwargs["tags"] = dict(deployment.resource_tags())
    return kwargs


def check_no_kubernetes(graph: FlowGraph, decorators: dict[str, dict[str, StepDecorator]]
                        ) -> None:
    """Refuse @kubernetes steps, all named in one error, before anything is built.

    Step Functions can run a Kubernetes Job on EKS (``arn:aws:states:::eks:runJob.sync``), but
    the only Step Functions this project can test against, moto's interpreter, does not execute
    that integration (moto 5.2: ``eks`` is an unsupported service there, and ``runJob`` is no
    EKS API it could forward to), so it is not built: every state is a Batch job.
    """
    steps = [n for n in graph if "kubernetes" in decorators[n.name]]
    if not steps:
        return
    lines = [f"step '{n.name}' has @kubernetes (line {n.lineno}), which a deployed flow cannot "
             "run: Step Functions deployments run every step as an AWS Batch job (EKS jobs "
             "through eks:runJob.sync are not supported). Use @batch (sized with @resources) "
             "for this step, or run the flow with 'python flow.py run', where @kubernetes "
             "steps run on the cluster ('--with kubernetes' sends every step there)."
             for n in steps]
    raise CompileError("The flow cannot be deployed to Step Functions:\n  "
                       + "\n  ".join(lines))


def build(flow_cls: type, graph: FlowGraph, stores: Stores, deployment: Deployment,
          decorators: dict[str, dict[str, StepDecorator]], max_workers: int,
          workflow_timeout: int | None, max_num_splits: int = 100,
          distributed_map: bool = False,
          max_loop_iterations: int = DEFAULT_MAX_LOOP_ITERATIONS, ship: bool = False,
          report: Callable[[str], None] = lambda message: None) -> Built:
    """Everything ``create`` needs; raises a clear error before anything is created.

    Foreach steps are inline or Distributed Maps as ``plan_maps`` decides for the widths
    ``max_num_splits`` allows; ``distributed_map`` makes them all Distributed.

    With ``ship`` (``create``), flowlib's runtime bundle and the container bundles of the
    steps' @pypi/@conda environments are built and stored now (``flowlib.remote.runtime``,
    ``flowlib.environments.remote``), and every state's command names them: the containers
    install from the datastore, with no package index. Without it (``--only-json``), nothing
    is built or stored and the commands leave them out."""
    check_no_kubernetes(graph, decorators)
    script = Path(sys.modules[flow_cls.__module__].__file__ or "").resolve()
    package, script_name = build_package(script)
    package_key = content_key([package])
    code = ship_code(stores, graph.name, CodePackage(
        package_key, script_name, len(package), __version__, hashlib.sha256(package).hexdigest()),
        ship, report)
    bundles = environment_bundles(flow_cls, stores, decorators, ship, report)
    profile = stores.profile
    table = profile["dynamodb_table"] if profile is not None else ""
    targets: dict[str, jobs.StepTarget] = {}
    job_definitions: dict[str, dict[str, Any]] = {}
    for node in graph:
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
            "-m", "flowlib.remote.stepfunctions.entry", "--flow", graph.name,
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
        if step in bundles:
            command += ["--environment", bundles[step]]
        command = code.command(target.shape.image, command)
        environment = [{"Name": k, "Value": v} for k, v in sorted(static_env.items())]
        # The run's own execution, also inside a Distributed Map's child executions (whose
        # $$.Execution.Name is theirs): control records and items are keyed by it.
        environment.append({"Name": entry.ENV_EXECUTION,
                            "Value.$": "$$.Execution.Name" if step == "start" else "$.execution"})
        if step == "start":
            environment.append({"Name": entry.ENV_INPUT, "Value.$": "States.JsonToString($)"})
            environment.append({"Name": entry.ENV_EXECUTION_ARN, "Value.$": "$$.Execution.Id"})
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
            "Tags": {**deployment.resource_tags(), "flowlib:step": step, **run_tags(step)},
        }
        problem = jobs.overrides_problem(step, parameters["ContainerOverrides"],
                                         reserved=RUNTIME_VALUES_RESERVE)
        if problem:
            raise CompileError(problem)
        if timeout is not None and not fallback:
            seconds = max(jobs.MIN_ATTEMPT_SECONDS,
                          int(math.ceil(timeout.total_seconds)) + TIMEOUT_MARGIN)
            parameters["Timeout"] = {"AttemptDurationSeconds": seconds}
        return {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync",
                "Parameters": parameters}

    def run_tags(step: str) -> dict[str, str]:
        # Which run a job belongs to, evaluated per task by Step Functions (``.$`` keys), so
        # 'step-functions terminate' and 'resume' find the jobs an ended execution left
        # running (``run_jobs``): the run's own execution name everywhere, also inside a
        # Distributed Map's child executions (a scheduled run's start task does not know its
        # run id yet), and the run id after start.
        if step == "start":
            return {f"{run_jobs.EXECUTION_TAG}.$": "$$.Execution.Name"}
        return {f"{run_jobs.EXECUTION_TAG}.$": "$.execution",
                f"{run_jobs.RUN_TAG}.$": "$.run"}

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
        distributed=plan_maps(graph, max_num_splits, max_loop_iterations, distributed_map,
                              decorators),
        max_loop_iterations=max_loop_iterations)
    runtimes = {value.split(":", 1)[0] for value in code.runtimes.values() if value}
    held = {package_key, *runtimes, *bundles.values()} if ship else set()
    return Built(definition, package, package_key, job_definitions, held)


def ship_code(stores: Stores, flow: str, package: CodePackage, ship: bool,
              report: Callable[[str], None]) -> ContainerCode:
    """The container code of a deployment (runtime bundles built only when shipping)."""
    if ship:
        return container_code(stores, flow, package, report)
    store = blob_prefix(stores, flow)
    region = (stores.profile["region"] if stores.profile is not None else "") or "us-east-1"
    return ContainerCode(store, region, package)


def environment_bundles(flow_cls: type, stores: Stores,
                        decorators: dict[str, dict[str, StepDecorator]], ship: bool,
                        report: Callable[[str], None]) -> dict[str, str]:
    """step -> ``--environment`` value of its @pypi/@conda bundle (every state is a Batch job).
    Without ``ship`` nothing is resolved: the value says where it will come from."""
    from flowlib.environments.prepare import container_bundles, plan

    if not ship:
        return {step: "(built by create)" for step in plan(flow_cls, decorators)}
    return container_bundles(flow_cls, stores, decorators, list(decorators), report)


def flow_script(flow_cls: type) -> Path:
    return Path(sys.modules[flow_cls.__module__].__file__ or "").resolve()
