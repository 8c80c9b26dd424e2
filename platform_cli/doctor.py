"""Live checks of an environment with boto3: does it work, not only does it exist.

Each check is a line with pass or fail and, when failing, a hint. The stack's outputs are read
from the Terraform state in S3 (no Terraform run needed, so the doctor is quick).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from platform_cli.errors import PlatformError
from platform_cli.gc_doctor import GcCheckError, check_gc_schedule


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _run(name: str, fn: Callable[[], str], hint: str) -> Check:
    try:
        return Check(name, True, fn())
    except (_Fail, GcCheckError) as exc:
        return Check(name, False, str(exc), hint)
    except Exception as exc:  # noqa: BLE001 - a failed check is a line, never a traceback
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(
            exc, "response") else None
        return Check(name, False, f"{code or type(exc).__name__}: {exc}", hint)


class _Fail(Exception):
    pass


def run_checks(env: str, region: str, config: dict[str, Any] | None,
               profile: dict[str, Any] | None) -> list[Check]:
    from platform_cli.preflight import aws_session

    if config is None:
        return [Check("stack outputs", False, "no flowlib_config output in the state",
                      f"run `platform init {env}` (the apply has not completed)")]
    session = aws_session(region)
    s3 = session.client("s3")
    ddb = session.client("dynamodb")
    bucket, prefix = config["s3_bucket"], config.get("s3_prefix") or ""
    table = config["dynamodb_table"]
    checks = [
        _run("artifact bucket reachable", lambda: _bucket(s3, bucket),
             f"check the credentials' s3:ListBucket on {bucket}, or `platform apply {env}`"),
        _run("artifact bucket read/write", lambda: _probe(s3, bucket, prefix, config),
             "the credentials need s3:PutObject/GetObject/DeleteObject under the prefix, "
             "and puts must use SSE-KMS with the stack's key"),
        _run("metadata table", lambda: _table(ddb, table),
             f"`platform apply {env}` recreates the table from flowlib's schema"),
    ]
    queues = config.get("batch_job_queues") or {}
    if queues:
        batch = session.client("batch")
        checks.append(_run("batch queues and compute environments",
                           lambda: _batch(batch, queues),
                           f"`platform status {env}` shows what changed; `platform apply {env}`"))
    if config.get("eks_cluster_name"):
        eks = session.client("eks")
        checks.append(_run("eks cluster", lambda: _eks(eks, config["eks_cluster_name"]),
                           "see the cluster's health in the EKS console"))
    if config.get("ecr_repository_url"):
        ecr = session.client("ecr")
        checks.append(_run("ecr repository", lambda: _ecr(ecr, config["ecr_repository_url"]),
                           f"`platform apply {env}` recreates it"))
    if config.get("sfn_role_arn"):
        from flowlib.remote.stepfunctions.doctor import check_stack

        checks.append(_run("step functions roles and log group",
                           lambda: check_stack(session, config),
                           f"`platform apply {env}` with enable_step_functions = true"))
    if config.get("events_role_arn") or config.get("event_bus_name"):
        from flowlib.remote.stepfunctions.doctor import check_events

        checks.append(_run("events role and bus", lambda: check_events(session, config),
                           f"`platform apply {env}` with enable_events = true"))
    if config.get("retention_gc_schedule_arn"):
        checks.append(_run("scheduled gc", lambda: check_gc_schedule(session, config),
                           f"`platform apply {env}` restores the schedule, job definition and "
                           "roles; a failed gc job's log is in the environment's Batch log "
                           "group (stream prefix flowlib-gc)"))
    checks.append(_run("flowlib profile", lambda: _profile(env, config, profile),
                       f"`platform init {env}` rewrites the profile from the stack"))
    return checks


def _bucket(s3: Any, bucket: str) -> str:
    s3.head_bucket(Bucket=bucket)
    return f"s3://{bucket}"


def _probe(s3: Any, bucket: str, prefix: str, config: dict[str, Any]) -> str:
    key = f"{prefix}/_platform/doctor-{uuid.uuid4().hex}".lstrip("/")
    body = b"flowlib platform doctor probe"
    extra: dict[str, Any] = {}
    if config.get("s3_kms_key_arn"):
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": config["s3_kms_key_arn"]}
    put = s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    try:
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if got != body:
            raise _Fail("the probe object read back differs from what was written")
    finally:
        # Delete the exact version: a versioned bucket keeps no delete marker then.
        version = put.get("VersionId")
        if version and version != "null":
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
        else:
            s3.delete_object(Bucket=bucket, Key=key)
    return f"wrote, read and deleted s3://{bucket}/{key}"


def _table(ddb: Any, table: str) -> str:
    from flowlib.metadata.dynamodb import check_table

    description = ddb.describe_table(TableName=table)["Table"]
    if description.get("TableStatus") != "ACTIVE":
        raise _Fail(f"table {table} is {description.get('TableStatus')}, not ACTIVE")
    problems = check_table(description)
    if problems:
        raise _Fail(f"table {table} does not match flowlib's schema: {'; '.join(problems)}")
    return f"{table} ACTIVE, keys and indexes match flowlib's schema"


def _batch(batch: Any, queues: dict[str, str]) -> str:
    found = batch.describe_job_queues(jobQueues=list(queues.values()))["jobQueues"]
    by_arn = {q["jobQueueArn"]: q for q in found}
    problems, environments = [], set()
    for name, arn in queues.items():
        queue = by_arn.get(arn)
        if queue is None:
            problems.append(f"queue {name} is missing")
            continue
        if queue.get("state") != "ENABLED" or queue.get("status") != "VALID":
            problems.append(f"queue {name} is {queue.get('state')}/{queue.get('status')}")
        environments.update(o["computeEnvironment"] for o in queue.get("computeEnvironmentOrder",
                                                                        []))
    if environments:
        ces = batch.describe_compute_environments(
            computeEnvironments=sorted(environments))["computeEnvironments"]
        for ce in ces:
            if ce.get("status") != "VALID" or ce.get("state") != "ENABLED":
                problems.append(f"compute environment {ce['computeEnvironmentName']} is "
                                f"{ce.get('state')}/{ce.get('status')}")
        if len(ces) < len(environments):
            problems.append("a compute environment of a queue is missing")
    if problems:
        raise _Fail("; ".join(problems))
    return f"{len(queues)} queue(s) ENABLED, {len(environments)} compute environment(s) VALID"


def _eks(eks: Any, name: str) -> str:
    status = eks.describe_cluster(name=name)["cluster"]["status"]
    if status != "ACTIVE":
        raise _Fail(f"cluster {name} is {status}")
    return f"{name} ACTIVE"


def _ecr(ecr: Any, url: str) -> str:
    name = url.split("/", 1)[1]
    ecr.describe_repositories(repositoryNames=[name])
    return f"{name} present"


def _profile(env: str, config: dict[str, Any], profile: dict[str, Any] | None) -> str:
    from platform_cli import profiles

    try:
        expected = profiles.profile_for_stack(config)
    except Exception as exc:  # noqa: BLE001 - flowlib's ConfigError: a failed line
        raise _Fail(f"the stack output is not a valid profile: {exc}") from None
    problems = profiles.compare(profile, expected)
    if problems:
        raise _Fail("; ".join(problems))
    return f"profile '{env}' agrees with the stack's outputs"


def stack_config(state: dict[str, Any] | None) -> dict[str, Any] | None:
    if not state:
        return None
    output = state.get("outputs", {}).get("flowlib_config")
    return output.get("value") if output else None


def require_ok(checks: list[Check]) -> None:
    failed = [c for c in checks if not c.ok]
    if failed:
        raise PlatformError(f"{len(failed)} check(s) failed: "
                            + ", ".join(c.name for c in failed))
