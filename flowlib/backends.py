"""The compute backends, one table: where each one's pieces live.

A backend is everything needed to run steps somewhere: the step decorator that sends a step
there, the launcher the scheduler starts its tasks with, the command group of the flow file
(``python flow.py batch list``) and the profile keys it reads. Pieces are named as
``"module:attribute"`` strings and imported only when used: ``import flowlib`` and a local run
never import boto3 or the kubernetes client, and a missing optional package becomes one
message naming the extra to install.

Adding a backend (Step Functions, Argo, ...) is one folder under ``flowlib/remote/`` plus one
entry in ``BACKENDS``. The decorator is optional (an orchestrator such as Step Functions has
none), and so is the launcher (it has no tasks for the local scheduler to start). An
orchestrator names a liveness probe instead: readers ask it whether a run it orchestrates
(system tag ``runtime:<name>``) is still alive (``flowlib.metadata.liveness``).

This module is a leaf of the layer contract (README, "Layout"): plain data, no imports from
the rest of flowlib but ``exceptions``, so that ``decorators``, ``config``, the runtime and the
CLI can all read it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from flowlib.exceptions import FlowlibError


@dataclass(frozen=True)
class ProfileKey:
    """A profile key a backend reads (``flowlib.config`` turns it into a schema ``Key``)."""

    name: str
    help: str
    kind: str = "str"  # "str" or "map" (a JSON object of strings)

    @property
    def env(self) -> bool:
        return self.kind != "map"  # maps cannot be given as one FLOWLIB_<NAME> variable


@dataclass(frozen=True)
class Backend:
    """Where one backend's pieces live (``"module:attribute"``), each optional."""

    name: str
    description: str
    decorator: str | None = None  # a StepDecorator class whose ``name`` is ``name``
    launcher: str | None = None  # built as Launcher(flow_cls, graph, stores, decorators_by_step)
    # A function of the flow class (None outside a flow file) returning its click group.
    cli_group: str | None = None
    cli_help: str = ""  # one line for ``python flow.py --help`` (without importing the group)
    profile_keys: tuple[ProfileKey, ...] = ()
    extra: str = ""  # the pip extra its imports need: pip install 'flowlib-platform[extra]'
    # An orchestrator's liveness probe (``flowlib.metadata.liveness``): a function of a run
    # record tagged ``runtime:<name>`` returning a ``Liveness``, or None when it cannot tell.
    liveness: str | None = None

    def load(self, piece: str) -> Any:
        """Import and return one piece (``"decorator"``, ``"launcher"``, ``"cli_group"``,
        ``"liveness"``)."""
        target = getattr(self, piece)
        if target is None:
            raise FlowlibError(f"The {self.name} backend has no {piece.replace('_', ' ')}.")
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] == "flowlib":
                raise
            raise FlowlibError(
                f"{self.description} needs the package '{exc.name}': "
                f"pip install 'flowlib-platform[{self.extra or 'aws'}]'."
            ) from None
        return getattr(module, attribute)


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in [
        # This machine: forked (or fresh-interpreter) task processes. Chosen when a step names
        # no other backend; its launcher is built by the runtime (it needs the flow's code).
        Backend("local", "Running steps on this machine"),
        Backend(
            "batch",
            "Running steps on AWS Batch",
            decorator="flowlib.decorators:BatchDecorator",
            launcher="flowlib.remote.batch.launcher:BatchLauncher",
            cli_group="flowlib.remote.batch.cli:batch_group",
            cli_help="This flow's jobs on AWS Batch.",
            profile_keys=(
                ProfileKey("batch_job_queue", "default AWS Batch job queue"),
                ProfileKey("batch_job_queues", "compute environment name -> job queue ARN",
                           "map"),
                ProfileKey("batch_job_role_arn", "job role for Batch jobs"),
                ProfileKey("batch_execution_role_arn", "ECS execution role for Batch jobs"),
                ProfileKey("batch_host_cache", "host folder where a Batch instance's jobs "
                           "share unpacked bundles (default /var/cache/flowlib; 'off')"),
                ProfileKey("batch_host_cache_max_age_days", "days a bundle nobody uses stays "
                           "in the host cache (default 14; 'off')"),
                ProfileKey("batch_host_cache_min_free_percent", "free disk the host cache "
                           "keeps, removing least recently used bundles (default 10; 0: off)"),
            ),
            extra="aws",
        ),
        Backend(
            "kubernetes",
            "Running steps on Kubernetes",
            decorator="flowlib.decorators:KubernetesDecorator",
            launcher="flowlib.remote.kubernetes.launcher:KubernetesLauncher",
            cli_group="flowlib.remote.kubernetes.cli:kubernetes_group",
            cli_help="This flow's Kubernetes Jobs.",
            profile_keys=(
                ProfileKey("eks_cluster_name", "EKS cluster name"),
                ProfileKey("eks_cluster_endpoint", "EKS cluster API endpoint"),
                ProfileKey("kubernetes_namespace", "namespace flowlib's jobs run in"),
                ProfileKey("kubernetes_service_account", "service account of flowlib's jobs"),
            ),
            extra="aws,kubernetes",
        ),
        # An orchestrator, not a launcher: the flow is compiled to a state machine whose states
        # run the standalone task command on Batch (flowlib/remote/stepfunctions).
        Backend(
            "step-functions",
            "Deploying flows to AWS Step Functions",
            cli_group="flowlib.remote.stepfunctions.cli:step_functions_group",
            cli_help="Deploy the flow to AWS Step Functions (runs with no laptop attached).",
            liveness="flowlib.remote.stepfunctions.liveness:execution_liveness",
            profile_keys=(
                ProfileKey("sfn_role_arn", "Step Functions execution role"),
                ProfileKey("scheduler_role_arn", "EventBridge Scheduler role (@schedule)"),
                ProfileKey("sfn_log_group_arn", "log group of Step Functions executions"),
                ProfileKey("events_role_arn", "EventBridge role starting state machines "
                           "(@trigger, @trigger_on_finish)"),
                ProfileKey("event_bus_name", "EventBridge bus of events (default: 'default')"),
            ),
            extra="aws",
        ),
    ]
}

LOCAL = "local"


def compute_decorator_names() -> tuple[str, ...]:
    """Names of the decorators that send a step to a backend (``batch``, ``kubernetes``)."""
    return tuple(b.name for b in BACKENDS.values() if b.decorator)


def backend(name: str) -> Backend:
    """The backend called ``name``; FlowlibError listing the known ones otherwise."""
    found = BACKENDS.get(name)
    if found is None:
        raise FlowlibError(
            f"No compute backend '{name}'. Known: {', '.join(sorted(BACKENDS))}."
        )
    return found


def with_cli() -> list[Backend]:
    """Backends that add a command group to the flow file's command line."""
    return [b for b in BACKENDS.values() if b.cli_group]
