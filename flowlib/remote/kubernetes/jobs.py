"""The batch/v1 Job that runs one task attempt, built as a plain dict (what the API takes).

A dict rather than the client's model classes: it is what ``create_namespaced_job`` sends
anyway, it is easy to assert on in tests, and it keeps this module free of the ``kubernetes``
package so that ``kubernetes list`` formatting and unit tests stay light.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from flowlib.decorators import StepDecorator
from flowlib.exceptions import FlowlibError
from flowlib.remote.runtime import default_image
from flowlib.runtime.spec import TaskSpec

LABEL_PREFIX = "flowlib/"
PATHSPEC_ANNOTATION = "flowlib/pathspec"
GPU_RESOURCE = "nvidia.com/gpu"
TTL_AFTER_FINISHED = 600
# flowlib's own @timeout timer names the step and normally fires first; the Job's deadline is
# the backstop that stops the pod when the runtime that launched it is gone (killed, laptop
# closed). The slack covers scheduling and image pull, which Kubernetes counts but flowlib not.
DEADLINE_SLACK_SECONDS = 10
DEFAULT_NAMESPACE = "default"
_MAX_NAME = 63


def label(key: str) -> str:
    return LABEL_PREFIX + key


def store_id(description: str) -> str:
    """A short stable id of the stores a run uses: two users (or two test stores) may both have
    a run 1 of the same flow on one cluster; this label keeps their jobs apart."""
    return hashlib.blake2b(description.encode(), digest_size=5).hexdigest()


def dns_label(text: str) -> str:
    """Lower-case alphanumerics and '-', no leading/trailing '-' (RFC 1123 label chars)."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")


def label_value(text: str) -> str:
    """A valid label value: <= 63 of [A-Za-z0-9._-], alphanumeric at both ends."""
    value = re.sub(r"[^A-Za-z0-9._-]", "_", text)[:_MAX_NAME]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def job_name(spec: TaskSpec, store: str) -> str:
    """``flowlib-<flow>-<run>-<step>-<task>-<attempt>-<hash>``, at most 63 characters.

    The hash (of the store id and the attempt's pathspec) makes the name unique per store and
    keeps it unique when the readable part has to be shortened; it is deterministic, so a
    second create of the same attempt is a 409, never a duplicate pod.
    """
    digest = hashlib.blake2b(
        f"{store}/{spec.pathspec}/{spec.attempt}".encode(), digest_size=3
    ).hexdigest()
    readable = dns_label(
        f"flowlib-{spec.flow}-{spec.run_id}-{spec.step}-{spec.task_id}-{spec.attempt}"
    )
    readable = readable[: _MAX_NAME - len(digest) - 1].rstrip("-")
    return f"{readable}-{digest}"


@dataclass
class StepResources:
    """What a step asks for: the larger of ``@resources`` and ``@kubernetes`` for each value
    (Metaflow's rule, so adding ``@resources`` never shrinks a step)."""

    cpu: float = 1
    memory: int = 4096  # MiB
    gpu: int = 0
    disk: int | None = None  # MiB of ephemeral storage
    shared_memory: int | None = None  # MiB of /dev/shm
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_decorators(cls, decorators: dict[str, StepDecorator]) -> StepResources:
        found = [d for name, d in decorators.items() if name in ("resources", "kubernetes")]
        out = cls()
        if not found:
            return out
        out.cpu = max(float(d.cpu) for d in found)
        out.memory = int(math.ceil(max(float(d.memory) for d in found)))
        out.gpu = int(max(float(d.gpu or 0) for d in found))
        disks = [int(d.disk) for d in found if d.disk]
        out.disk = max(disks) if disks else None
        shms = [int(d.shared_memory) for d in found if d.shared_memory]
        out.shared_memory = max(shms) if shms else None
        return out

    def quantities(self) -> dict[str, str]:
        cpu = f"{self.cpu:g}" if self.cpu >= 1 else f"{int(round(self.cpu * 1000))}m"
        values = {"cpu": cpu, "memory": f"{self.memory}Mi"}
        if self.disk:
            values["ephemeral-storage"] = f"{self.disk}Mi"
        if self.gpu:
            values[GPU_RESOURCE] = str(self.gpu)
        return values


@dataclass
class JobSettings:
    """Where and as what a step's pods run: the step's ``@kubernetes`` values over the
    profile's defaults."""

    namespace: str
    image: str
    service_account: str | None = None
    node_selector: dict[str, str] | None = None
    tolerations: list[dict[str, Any]] | None = None

    @classmethod
    def resolve(
        cls, step: str, decorators: dict[str, StepDecorator], profile: Any
    ) -> JobSettings:
        k8s = decorators.get("kubernetes")

        def pick(attr: str, profile_key: str | None) -> Any:
            own = getattr(k8s, attr, None) if k8s is not None else None
            if own not in (None, ""):
                return own
            return _profile_value(profile, profile_key) if profile_key else None

        # Any image with the step's python runs it (flowlib ships with the job).
        image = pick("image", "image") or default_image()
        selector = pick("node_selector", None)
        if selector is not None and not isinstance(selector, dict):
            raise FlowlibError(
                f"@kubernetes(node_selector=...) of step '{step}' must be a dict of labels."
            )
        tolerations = pick("tolerations", None)
        if tolerations is not None and not isinstance(tolerations, list):
            raise FlowlibError(
                f"@kubernetes(tolerations=...) of step '{step}' must be a list of dicts."
            )
        return cls(
            namespace=pick("namespace", "kubernetes_namespace") or DEFAULT_NAMESPACE,
            image=image,
            service_account=pick("service_account", "kubernetes_service_account"),
            node_selector={str(k): str(v) for k, v in selector.items()} if selector else None,
            tolerations=tolerations,
        )


def _profile_value(profile: Any, key: str) -> Any:
    """Profiles are being extended by another module; read keys defensively."""
    if profile is None:
        return None
    try:
        return profile[key]
    except (KeyError, TypeError):
        return None


def job_labels(spec: TaskSpec, user: str, store: str) -> dict[str, str]:
    values = {
        "flow": spec.flow,
        "run": spec.run_id,
        "step": spec.step,
        "task": spec.task_id,
        "attempt": str(spec.attempt),
        "user": user,
        "store": store,
        "project": next((t.split(":", 1)[1] for t in spec.tags if t.startswith("project:")),
                        "none"),
    }
    return {label(k): label_value(v) for k, v in values.items()}


def build_job(
    spec: TaskSpec,
    *,
    name: str,
    settings: JobSettings,
    resources: StepResources,
    command: list[str],
    env: dict[str, str],
    labels: dict[str, str],
    timeout_seconds: float | None = None,
) -> dict[str, Any]:
    """The Job manifest of one attempt."""
    quantities = resources.quantities()
    container: dict[str, Any] = {
        "name": "step",
        "image": settings.image,
        "command": command,
        "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
        # requests == limits: the pod gets the Guaranteed QoS class, so a busy node neither
        # throttles a step below what it asked for nor evicts it first.
        "resources": {"requests": dict(quantities), "limits": dict(quantities)},
    }
    pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    if resources.shared_memory:
        pod_spec["volumes"] = [{
            "name": "dshm",
            "emptyDir": {"medium": "Memory", "sizeLimit": f"{resources.shared_memory}Mi"},
        }]
        container["volumeMounts"] = [{"name": "dshm", "mountPath": "/dev/shm"}]
    if settings.service_account:
        pod_spec["serviceAccountName"] = settings.service_account
    if settings.node_selector:
        pod_spec["nodeSelector"] = settings.node_selector
    if settings.tolerations:
        pod_spec["tolerations"] = settings.tolerations
    annotations = {
        PATHSPEC_ANNOTATION: spec.pathspec,
        "flowlib/attempt-pathspec": f"{spec.pathspec}/{spec.attempt}",
    }
    job_spec: dict[str, Any] = {
        "backoffLimit": 0,  # flowlib retries (@retry), with its own bookkeeping per attempt
        "ttlSecondsAfterFinished": TTL_AFTER_FINISHED,
        "template": {
            "metadata": {"labels": dict(labels), "annotations": dict(annotations)},
            "spec": pod_spec,
        },
    }
    if timeout_seconds:
        job_spec["activeDeadlineSeconds"] = int(math.ceil(timeout_seconds)) + DEADLINE_SLACK_SECONDS
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": settings.namespace,
            "labels": dict(labels),
            "annotations": annotations,
        },
        "spec": job_spec,
    }
