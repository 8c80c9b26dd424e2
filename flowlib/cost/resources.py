"""What an attempt runs on, recorded by the task process when the attempt starts.

* ``cpu``, ``memory`` (MiB), ``gpu``: the step's request, the larger of ``@resources`` and the
  compute decorator for each value (the rule the Batch and Kubernetes backends apply).
* ``compute``: ``batch`` (``AWS_BATCH_JOB_ID`` is set), ``kubernetes``
  (``KUBERNETES_SERVICE_HOST``) or ``local``.
* ``code_package``: the blob key of the code package a remote task runs (a reference gc
  keeps for kept runs).
* ``instance_type``: ``FLOWLIB_INSTANCE_TYPE`` when set; else, on Batch, the EC2 instance
  metadata service (botocore's IMDSv2 client, one attempt, 1 s timeout; absent on Fargate).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

INSTANCE_TYPE_ENV = "FLOWLIB_INSTANCE_TYPE"
CODE_PACKAGE_ENV = "FLOWLIB_CODE_PACKAGE"


def attempt_resources(decorators: list[Any], environ: dict[str, str] | None = None
                      ) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    found = [d for d in decorators if d.name in ("resources", "batch", "kubernetes")]
    out: dict[str, Any] = {"cpu": 1.0, "memory": 4096, "gpu": 0}
    if found:
        out["cpu"] = max(float(d.attributes["cpu"]) for d in found)
        out["memory"] = max(int(float(d.attributes["memory"])) for d in found)
        out["gpu"] = max(int(float(d.attributes["gpu"] or 0)) for d in found)
    if env.get("AWS_BATCH_JOB_ID"):
        out["compute"] = "batch"
    elif env.get("KUBERNETES_SERVICE_HOST"):
        out["compute"] = "kubernetes"
    else:
        out["compute"] = "local"
    instance = env.get(INSTANCE_TYPE_ENV) or (
        _imds_instance_type() if out["compute"] == "batch" and environ is None
        and _on_aws_container_host(env) else None)
    if instance:
        out["instance_type"] = instance
    if env.get(CODE_PACKAGE_ENV):  # set by flowlib.remote.bootstrap
        out["code_package"] = env[CODE_PACKAGE_ENV]
    return out


def _on_aws_container_host(env: Mapping[str, str]) -> bool:
    """Only a container the ECS agent started (what Batch runs) asks the instance metadata
    service: the agent sets these variables. Anywhere else (tests, a laptop) no request to
    169.254.169.254 is made at all."""
    return bool(env.get("ECS_CONTAINER_METADATA_URI_V4") or env.get("ECS_CONTAINER_METADATA_URI"))


def _imds_instance_type() -> str | None:
    try:
        from botocore.utils import IMDSFetcher

        fetcher = IMDSFetcher(timeout=1, num_attempts=1)
        token = fetcher._fetch_metadata_token()
        response = fetcher._get_request("/latest/meta-data/instance-type", None, token)
        return response.text.strip() or None
    except Exception:  # noqa: BLE001 - Fargate or IMDS blocked: the type stays unknown
        return None
