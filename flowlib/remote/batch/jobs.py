"""What goes to AWS Batch for a task, and what a failed job means.

* One job definition per (image, resource shape, roles): named from a hash of those values,
  looked up with ``describe_job_definitions(status=ACTIVE)`` before registering, so runs and
  machines share definitions instead of adding a revision per run.
* Each task is one ``submit_job`` with ``containerOverrides`` (the standalone task command, its
  environment, its resource requirements), tags naming flow, run, step, task and user, and
  ``@timeout`` as the attempt duration. A foreach's tasks can go out as one array job whose
  children pick their task id by ``AWS_BATCH_JOB_ARRAY_INDEX`` (see ``entry``).
* The definition's retry strategy re-runs a job only when its host went away (spot reclaim,
  scale-in): those attempts are AWS's, not the user's ``@retry``.
* The definition mounts a host folder (profile ``batch_host_cache``, default
  ``HOST_CACHE``) at the same path and points ``FLOWLIB_ENVIRONMENTS_DIR`` at it, so flowlib's
  runtime bundle and ``@pypi`` bundles are unpacked once per instance, not once per job (a
  container's own /tmp dies with it). Stage 0 unpacks under a file lock with an atomic
  rename, so concurrent jobs on one host share it safely; a job unpacking prunes what no job
  has used for ``batch_host_cache_max_age_days`` and, under
  ``batch_host_cache_min_free_percent`` of free disk, the least recently used
  (``flowlib.environments.host_cache``). Every job of an environment's queues
  runs with that environment's roles, so sharing the folder crosses no trust boundary.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from flowlib.decorators import StepDecorator
from flowlib.environments.host_cache import HostCacheError
from flowlib.environments.host_cache import settings as host_cache_settings
from flowlib.environments.remote import BUNDLES_DIR_ENV
from flowlib.exceptions import FlowlibError
from flowlib.remote.runtime import STAGE0_ENV, default_image, stage0_code
from flowlib.runtime.spec import TaskSpec

MIN_ATTEMPT_SECONDS = 60  # AWS Batch rejects shorter attempt durations
INFRA_ATTEMPTS = 3
# Retry only when the host disappeared; any exit of the container itself is final for Batch
# (flowlib's @retry decides about those).
RETRY_STRATEGY = {
    "attempts": INFRA_ATTEMPTS,
    "evaluateOnExit": [
        {"onStatusReason": "Host EC2*", "action": "RETRY"},
        {"onReason": "*", "action": "EXIT"},
    ],
}
ARRAY_TASKS_ENV = "FLOWLIB_BATCH_ARRAY_TASKS"
OVERRIDES_LIMIT = 8192  # characters of a job's containerOverrides that AWS Batch accepts
HOST_CACHE = "/var/cache/flowlib"  # profile batch_host_cache: a host folder, or "off"
HOST_CACHE_VOLUME = "flowlib-host-cache"
ARRAY_PLACEHOLDER = "@array"
VERSION_MISMATCH_EXIT = 78  # flowlib.remote.bootstrap's exit for a version mismatch
TERMINAL = ("SUCCEEDED", "FAILED")
_NAME_OK = re.compile(r"[^A-Za-z0-9_-]")


class BatchConfigError(FlowlibError):
    """A step cannot be sent to AWS Batch as configured (queue, image, role)."""


@dataclass(frozen=True)
class JobShape:
    """Everything a job definition fixes; equal shapes share one definition."""

    image: str
    vcpu: str
    memory: str
    gpu: int
    shared_memory: int | None
    job_role: str | None
    execution_role: str | None
    host_cache: str | None = None  # host folder shared by the jobs of an instance (bundles)
    # Stage 0's code (flowlib.remote.runtime.stage0_code): in the definition, not in each job's
    # overrides, which AWS Batch limits to 8,192 characters. A new flowlib version whose stage 0
    # differs gets its own definition.
    stage0_code: str = field(default="", repr=False)

    @property
    def definition_name(self) -> str:
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()
        return f"flowlib-{digest[:24]}"

    def resource_requirements(self) -> list[dict[str, str]]:
        found = [{"type": "VCPU", "value": self.vcpu}, {"type": "MEMORY", "value": self.memory}]
        if self.gpu:
            found.append({"type": "GPU", "value": str(self.gpu)})
        return found

    def register_kwargs(self) -> dict[str, Any]:
        container: dict[str, Any] = {
            "image": self.image,
            "command": ["python", "-m", "flowlib.remote.bootstrap", "--help"],
            "resourceRequirements": self.resource_requirements(),
        }
        if self.job_role:
            container["jobRoleArn"] = self.job_role
        if self.execution_role:
            container["executionRoleArn"] = self.execution_role
        if self.shared_memory:
            container["linuxParameters"] = {"sharedMemorySize": int(self.shared_memory)}
        variables = {STAGE0_ENV: self.stage0_code} if self.stage0_code else {}
        if self.host_cache:
            container["volumes"] = [{"name": HOST_CACHE_VOLUME,
                                     "host": {"sourcePath": self.host_cache}}]
            container["mountPoints"] = [{"sourceVolume": HOST_CACHE_VOLUME,
                                         "containerPath": self.host_cache, "readOnly": False}]
            variables[BUNDLES_DIR_ENV] = self.host_cache
        if variables:
            container["environment"] = environment(variables)
        return {
            "jobDefinitionName": self.definition_name,
            "type": "container",
            "containerProperties": container,
            "retryStrategy": json.loads(json.dumps(RETRY_STRATEGY)),
            "propagateTags": True,
            "tags": {"flowlib:managed": "true"},
        }


@dataclass(frozen=True)
class StepTarget:
    """Where and how one step's tasks run: the queue and the job shape."""

    step: str
    queue: str
    shape: JobShape
    attempt_seconds: int | None


def step_target(step: str, decorators: dict[str, StepDecorator], profile: Any) -> StepTarget:
    """Resolve @batch / @resources / @timeout and the profile's defaults for ``step``.

    Resources are the larger of @batch's and @resources' values (Metaflow's rule), so a flow
    written with @resources runs the same with ``--with batch``.
    """
    batch = decorators["batch"]
    res = decorators.get("resources")

    def biggest(key: str) -> Any:
        values = [d.attributes.get(key) for d in (batch, res) if d is not None]
        values = [v for v in values if v is not None]
        return max(values) if values else None

    get = (lambda key: profile[key]) if profile is not None else (lambda key: None)
    queue = batch.queue or get("batch_job_queue")
    if not queue:
        raise BatchConfigError(
            f"step '{step}' runs on AWS Batch but no job queue is set: add "
            "@batch(queue='...') or batch_job_queue to the profile (FLOWLIB_BATCH_JOB_QUEUE)."
        )
    # Any image with the step's python runs it (flowlib ships with the job): without a
    # setting, the official Python image of the launching python.
    image = batch.image or get("image") or default_image()
    cpu = float(biggest("cpu"))
    shape = JobShape(
        image=image,
        vcpu=str(int(cpu)) if cpu == int(cpu) else f"{cpu:g}",
        memory=str(int(math.ceil(float(biggest("memory"))))),
        gpu=int(biggest("gpu") or 0),
        shared_memory=int(biggest("shared_memory")) if biggest("shared_memory") else None,
        job_role=batch.iam_role or get("batch_job_role_arn") or get("task_role_arn"),
        execution_role=get("batch_execution_role_arn"),
        host_cache=host_cache(get("batch_host_cache")),
        stage0_code=stage0_code(),
    )
    try:  # read in the container (the profile's keys are its FLOWLIB_ variables): check here
        host_cache_settings(get("batch_host_cache_max_age_days"),
                            get("batch_host_cache_min_free_percent"))
    except HostCacheError as exc:
        raise BatchConfigError(str(exc)) from None
    timeout = decorators.get("timeout")
    seconds = None
    if timeout is not None:
        # The step raises TimeoutException at the deadline and the runtime kills it a grace
        # period later; Batch's own limit is the backstop after both.
        from flowlib.runtime.scheduler import TIMEOUT_KILL_GRACE

        limit = int(math.ceil(timeout.total_seconds + TIMEOUT_KILL_GRACE))
        seconds = max(MIN_ATTEMPT_SECONDS, limit)
    return StepTarget(step, queue, shape, seconds)


def host_cache(setting: str | None) -> str | None:
    """The host folder of ``batch_host_cache`` (``HOST_CACHE`` when unset, None for "off")."""
    if setting is None or setting == "":
        return HOST_CACHE
    if setting.lower() == "off":
        return None
    folder = setting.rstrip("/")
    if not setting.startswith("/") or not folder or ".." in folder.split("/"):
        raise BatchConfigError(
            f"batch_host_cache is {setting!r}: it must be an absolute folder on the Batch "
            f"hosts other than / (default {HOST_CACHE}), or 'off' to unpack bundles in each "
            "job.")
    return folder


# -- names, tags, commands -------------------------------------------------------------------
def job_name(flow: str, run_id: str, step: str = "", task: str = "") -> str:
    """``flowlib-<flow>-<run>-<step>-<task>``: how ``batch list``/``kill`` find a run's jobs."""
    parts = [p for p in ("flowlib", flow, run_id, step, task) if p]
    return _NAME_OK.sub("_", "-".join(parts))[:128]


def job_tags(spec: TaskSpec, user: str, task: str | None = None) -> dict[str, str]:
    """Cost-allocation tags (propagated to the ECS task and its instance by the definition)."""
    return {
        "flowlib:flow": spec.flow,
        "flowlib:run": spec.run_id,
        "flowlib:step": spec.step,
        "flowlib:task": (task or spec.task_id)[:256],
        "flowlib:attempt": str(spec.attempt),
        "flowlib:user": user[:256],
        "flowlib:project": project_of(spec.tags)[:256],
    }


def project_of(tags: list[str]) -> str:
    """The run's @project name (its ``project:<name>`` tag), else ``none``: every job carries
    the cost-allocation tag so Cost Explorer can group by it."""
    return next((t.split(":", 1)[1] for t in tags if t.startswith("project:")), "none")


def bootstrap_args(package_key: str, version: str, spec: TaskSpec,
                   task_id: str | None = None, environment: str | None = None) -> list[str]:
    """``python`` arguments of the bootstrap (``flowlib.remote.bootstrap``) for one task."""
    args = spec.command_args()
    if task_id is not None:
        args[args.index("--task-id") + 1] = task_id
    env_args = ["--environment", environment] if environment else []
    return [
        "-m", "flowlib.remote.bootstrap", "--flow", spec.flow,
        "--package", package_key, "--expect-version", version, *env_args, "--", *args,
    ]


def bootstrap_command(code: Any, image: str, spec: TaskSpec,
                      environment: str | None = None) -> list[str]:
    """The container command of one task (``code``: ``flowlib.remote.runtime.ContainerCode``:
    flowlib and its dependencies come with the job, not with the image)."""
    package = code.package
    return code.command(image, bootstrap_args(package.key, package.flowlib_version, spec,
                                              environment=environment))


def array_command(code: Any, image: str, spec: TaskSpec,
                  environment: str | None = None) -> list[str]:
    """The command every child of an array job runs: it picks its own task id."""
    package = code.package
    inner = bootstrap_args(package.key, package.flowlib_version, spec,
                           task_id=ARRAY_PLACEHOLDER, environment=environment)
    return code.command(image, ["-m", "flowlib.remote.batch.entry", "--", *inner[2:]])


def environment(env: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in sorted(env.items())]


def overrides_problem(step: str, overrides: dict[str, Any], reserved: int = 0) -> str | None:
    """Why AWS Batch would fail a job with these ``containerOverrides``, or None.

    Batch fails such a job once it is scheduled ("Container Overrides length must be at most
    8192"); moto does not check it, so flowlib does, before submitting. ``reserved`` counts
    characters Step Functions fills in at run time (values of ``.$`` keys). The user's share of
    the overrides is the step's ``@environment`` variables and secret sources (in the command)
    and the profile's ``FLOWLIB_`` variables (in the environment)."""
    size = len(json.dumps(overrides, separators=(",", ":"))) + reserved
    if size <= OVERRIDES_LIMIT:
        return None
    parts = [(len(json.dumps(entry)), str(entry.get("name") or entry.get("Name")))
             for entry in overrides.get("environment") or overrides.get("Environment") or []]
    parts += [(len(json.dumps(arg)), f"argument {arg[:40]}{'...' if len(arg) > 40 else ''}")
              for arg in overrides.get("command") or overrides.get("Command") or []]
    largest = ", ".join(f"{name} ({length:,})" for length, name in sorted(parts)[::-1][:3])
    return (
        f"step '{step}' cannot run on AWS Batch: its job overrides (command and environment) "
        f"would be {size:,} characters, and Batch fails a job past {OVERRIDES_LIMIT:,}. The "
        f"largest: {largest}. Pass large values another way: a file shipped with the flow, "
        "an artifact, or a secret (@secrets)."
    )


# -- what went wrong -------------------------------------------------------------------------
def queue_problem(client: Any, queue: str) -> str | None:
    """Why ``queue`` cannot run jobs (missing, disabled, invalid, no usable compute), or None."""
    found = client.describe_job_queues(jobQueues=[queue]).get("jobQueues", [])
    if not found:
        return f"AWS Batch job queue '{queue}' does not exist (check the profile or @batch)"
    q = found[0]
    if q.get("state") == "DISABLED":
        return f"AWS Batch job queue '{queue}' is DISABLED; enable it or use another queue"
    if q.get("status") == "INVALID":
        return f"AWS Batch job queue '{queue}' is INVALID: {q.get('statusReason', '')}".rstrip()
    arns = [c["computeEnvironment"] for c in q.get("computeEnvironmentOrder", [])]
    if arns:
        envs = client.describe_compute_environments(computeEnvironments=arns).get(
            "computeEnvironments", [])
        usable = [e for e in envs if e.get("state") != "DISABLED" and e.get("status") != "INVALID"]
        if not usable:
            what = ", ".join(
                f"{e['computeEnvironmentName']} ({e.get('state')}/{e.get('status')}"
                + (f": {e['statusReason']}" if e.get("statusReason") else "") + ")"
                for e in envs
            )
            return f"AWS Batch job queue '{queue}' has no usable compute environment: {what}"
    return None


def submit_problem(step: str, queue: str, message: str) -> str:
    lowered = message.lower()
    if any(word in lowered for word in ("limit", "quota", "exceeded", "too many")):
        return (
            f"AWS Batch refused the job of step '{step}' on queue '{queue}': {message} (a "
            "service quota; request a higher quota or run fewer tasks at once with --max-workers)"
        )
    return f"AWS Batch refused the job of step '{step}' on queue '{queue}': {message}"


def explain_failure(job: dict[str, Any], step: str, shape: JobShape, log_tail: list[str],
                    attempt_seconds: int | None) -> str:
    """One line saying why a FAILED job failed, naming the step and the job."""
    job_id = job.get("jobId", "?")
    container = job.get("container") or {}
    last = (job.get("attempts") or [{}])[-1].get("container") or {}
    reason = " ".join(
        r for r in (job.get("statusReason"), container.get("reason"), last.get("reason")) if r
    )
    code = container.get("exitCode", last.get("exitCode"))
    where = f"step '{step}' (AWS Batch job {job_id})"
    bootstrap = next(
        (line for line in log_tail
         if line.startswith(("flowlib version mismatch:", "flowlib: cannot fetch",
                             "flowlib: cannot start the task"))), None)
    if bootstrap:
        return f"{where}: {bootstrap.strip()}"
    if code == VERSION_MISMATCH_EXIT:
        return f"{where}: the image's flowlib is not the launching machine's (exit 78)"
    if "CannotPullContainerError" in reason:
        return f"{where}: image {shape.image} cannot be pulled: {reason}"
    if "ResourceInitializationError" in reason:
        return f"{where}: the container could not be set up (execution role, secrets or " \
               f"network): {reason}"
    if "attempt duration exceeded" in reason.lower():
        return f"{where}: killed by its deadline (attempt duration {attempt_seconds} s, from " \
               "@timeout)"
    if reason.startswith("Host EC2"):
        return f"{where}: its EC2 host went away ({reason}) on all {INFRA_ATTEMPTS} " \
               "infrastructure attempts"
    if "OutOfMemory" in reason or code == 137:
        return f"{where}: killed for using more than its {shape.memory} MiB of memory " \
               "(raise @batch(memory=) or @resources(memory=))"
    detail = reason or (
        "the container exited" if log_tail else
        f"the job failed with no output and no reason from AWS Batch (check that image "
        f"{shape.image} exists and can be pulled)"
    )
    suffix = f" (exit code {code})" if code is not None else ""
    return f"{where}: {detail}{suffix}"
