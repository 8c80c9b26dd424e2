"""``platform doctor``'s check of the scheduled gc (terraform/modules/retention), when the stack
has one: it follows the chain AWS will follow, from the schedule to the job's permissions.

schedule ENABLED -> its target is Batch SubmitJob, as a role that trusts EventBridge Scheduler
and may submit -> the queue is ENABLED/VALID -> the job definition is ACTIVE and runs as the gc
role -> that role trusts ECS tasks and may delete under the environment's prefix and in its
table -> the last gc job, if any, did not fail.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import unquote

SUBMIT_JOB_TARGET = ":scheduler:::aws-sdk:batch:submitJob"


class GcCheckError(Exception):
    """The scheduled gc will not work as deployed; the message says which link is broken."""


def _document(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value or {}


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _role(iam: Any, arn: str, service: str, what: str) -> list[dict[str, Any]]:
    """The role's inline policy statements; raises if it is missing or trusts another service."""
    name = arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except Exception as exc:  # noqa: BLE001 - NoSuchEntity or access denied: one line
        raise GcCheckError(f"{what} {name} cannot be read: {exc}") from None
    if service not in json.dumps(_document(role.get("AssumeRolePolicyDocument"))):
        raise GcCheckError(f"{what} {name} does not trust {service}")
    statements: list[dict[str, Any]] = []
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = _document(iam.get_role_policy(RoleName=name, PolicyName=policy)[
            "PolicyDocument"])
        statements += [s for s in _as_list_of_dicts(document.get("Statement"))
                       if s.get("Effect") == "Allow"]
    return statements


def _as_list_of_dicts(value: Any) -> list[dict[str, Any]]:
    return [value] if isinstance(value, dict) else list(value or [])


def _allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Whether an Allow statement grants ``action`` on ``resource``: an ARN, or only the part
    after the ARN's fifth colon (``bucket/key``, ``table/name``), which ignores partition,
    region and account. Conditions are not evaluated."""

    def tail(arn: str) -> str:
        return arn.split(":", 5)[5] if arn.startswith("arn:") and arn.count(":") >= 5 else arn

    return any(
        any(fnmatchcase(action, a) for a in _as_list(s.get("Action")))
        and any(fnmatchcase(resource, r) or fnmatchcase(tail(resource), tail(r))
                for r in _as_list(s.get("Resource")))
        for s in statements
    )


def check_gc_schedule(session: Any, config: dict[str, Any]) -> str:
    """One line when the scheduled gc can run; raises GcCheckError naming the broken link."""
    arn = config["retention_gc_schedule_arn"]
    group, name = arn.split(":schedule/", 1)[-1].split("/", 1)
    schedule = session.client("scheduler").get_schedule(GroupName=group, Name=name)
    if schedule.get("State") != "ENABLED":
        raise GcCheckError(f"schedule {name} is {schedule.get('State')}")
    target = schedule["Target"]
    if not target["Arn"].endswith(SUBMIT_JOB_TARGET):
        raise GcCheckError(f"schedule {name} targets {target['Arn']}, not Batch SubmitJob")
    request = json.loads(target.get("Input") or "{}")
    queue_arn, definition_arn = request.get("JobQueue"), request.get("JobDefinition")
    if not queue_arn or not definition_arn:
        raise GcCheckError(f"schedule {name}'s input names no JobQueue or JobDefinition")

    iam = session.client("iam")
    submit = _role(iam, target["RoleArn"], "scheduler.amazonaws.com", "scheduler role")
    for resource in (queue_arn, definition_arn):
        if not _allows(submit, "batch:SubmitJob", resource):
            raise GcCheckError(f"scheduler role {target['RoleArn'].rsplit('/', 1)[-1]} may not "
                               f"submit to {resource}")

    batch = session.client("batch")
    queues = batch.describe_job_queues(jobQueues=[queue_arn])["jobQueues"]
    if not queues:
        raise GcCheckError(f"job queue {queue_arn} is missing")
    if queues[0].get("state") != "ENABLED" or queues[0].get("status") != "VALID":
        raise GcCheckError(f"job queue {queues[0]['jobQueueName']} is "
                           f"{queues[0].get('state')}/{queues[0].get('status')}")
    definitions = batch.describe_job_definitions(jobDefinitions=[definition_arn])[
        "jobDefinitions"]
    if not definitions or definitions[0].get("status") != "ACTIVE":
        raise GcCheckError(f"job definition {definition_arn} is not ACTIVE")
    job_role = definitions[0].get("containerProperties", {}).get("jobRoleArn")
    if not job_role:
        raise GcCheckError(f"job definition {definition_arn} has no job role")

    gc = _role(iam, job_role, "ecs-tasks.amazonaws.com", "gc role")
    prefix = (config.get("s3_prefix") or "").strip("/")
    needed = [("s3:DeleteObjectVersion", f"{config['s3_bucket']}/{prefix + '/' if prefix else ''}x",
               f"s3://{config['s3_bucket']}/{prefix}")] + [
        (action, f"table/{config['dynamodb_table']}", f"table {config['dynamodb_table']}")
        for action in ("dynamodb:UpdateItem", "dynamodb:BatchWriteItem")]
    for action, resource, described in needed:
        if not _allows(gc, action, resource):
            raise GcCheckError(f"gc role {job_role.rsplit('/', 1)[-1]} lacks {action} on "
                               f"{described}")
    return (f"schedule {name} ENABLED ({schedule.get('ScheduleExpression')}"
            f" {schedule.get('ScheduleExpressionTimezone') or 'UTC'}) submits "
            f"{definitions[0]['jobDefinitionName']}:{definitions[0]['revision']} to "
            f"{queues[0]['jobQueueName']} as {job_role.rsplit('/', 1)[-1]}; "
            + _last_run(batch, queue_arn, request.get("JobName") or name))


def _last_run(batch: Any, queue_arn: str, job_name: str) -> str:
    """The latest gc job on the queue (Batch keeps finished jobs for about a week)."""
    jobs = batch.list_jobs(jobQueue=queue_arn,
                           filters=[{"name": "JOB_NAME", "values": [job_name]}]
                           ).get("jobSummaryList", [])
    jobs = [j for j in jobs if j.get("jobName") == job_name]
    if not jobs:
        return "no gc job in the last days"
    last = max(jobs, key=lambda j: j.get("createdAt") or 0)
    when = datetime.fromtimestamp((last.get("createdAt") or 0) / 1000, timezone.utc)
    stamp = when.strftime("%Y-%m-%d %H:%M UTC")
    if last.get("status") == "FAILED":
        raise GcCheckError(f"the last gc job ({last['jobId']}, {stamp}) FAILED: "
                           f"{last.get('statusReason') or 'see its log'}")
    return f"last gc job {last.get('status')} ({stamp})"
