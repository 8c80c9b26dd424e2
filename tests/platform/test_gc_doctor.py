"""`platform doctor`'s scheduled-gc check on moto: it follows the schedule to the job's
permissions and names the first broken link, and reports a failed last gc job.

The chain is built with boto3 the way terraform/modules/retention builds it (the apply cycle in
tests/terraform checks the real one passes); each case then breaks one link. moto's server here
has no Docker engine, so a submitted job ends FAILED, which is the last-job case.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from platform_cli.gc_doctor import GcCheckError, check_gc_schedule

ACCOUNT = "123456789012"


class _Session:
    def __init__(self, stack: Any) -> None:
        self.stack = stack

    def client(self, service: str) -> Any:
        return self.stack.client(service)


def _trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}]})


def _policy(*statements: tuple[list[str], list[str]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": resources}
        for actions, resources in statements]})


@pytest.fixture
def gc_chain(moto_stack: Any) -> Any:
    """A schedule -> queue -> job definition -> gc role chain on the session's moto server."""
    suffix = uuid.uuid4().hex[:8]
    iam, batch = moto_stack.client("iam"), moto_stack.client("batch")
    scheduler = moto_stack.client("scheduler")
    table = f"flowlib-doc-{suffix}"
    table_arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table}"
    gc_role = iam.create_role(RoleName=f"doc-{suffix}-gc",
                              AssumeRolePolicyDocument=_trust("ecs-tasks.amazonaws.com"))
    gc_role_arn = gc_role["Role"]["Arn"]
    gc_policy = _policy(
        (["s3:DeleteObjectVersion"], [f"arn:aws:s3:::{moto_stack.bucket}/flowlib/*"]),
        (["dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem",
          "dynamodb:BatchWriteItem"], [table_arn, f"{table_arn}/index/*"]),
    )
    iam.put_role_policy(RoleName=f"doc-{suffix}-gc", PolicyName="flowlib-gc",
                        PolicyDocument=gc_policy)
    service_role = iam.create_role(RoleName=f"doc-{suffix}-batch",
                                   AssumeRolePolicyDocument=_trust("batch.amazonaws.com"))
    ce = batch.create_compute_environment(
        computeEnvironmentName=f"doc-{suffix}", type="UNMANAGED", state="ENABLED",
        serviceRole=service_role["Role"]["Arn"])["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName=f"doc-{suffix}", state="ENABLED", priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])["jobQueueArn"]
    definition = batch.register_job_definition(
        jobDefinitionName=f"doc-{suffix}-gc", type="container",
        containerProperties={"image": "flowlib:test", "command": ["python", "-c", "pass"],
                             "jobRoleArn": gc_role_arn,
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "2048"}]},
    )["jobDefinitionArn"]
    unversioned = definition.rsplit(":", 1)[0]
    iam.create_role(RoleName=f"doc-{suffix}-sched",
                    AssumeRolePolicyDocument=_trust("scheduler.amazonaws.com"))
    iam.put_role_policy(RoleName=f"doc-{suffix}-sched", PolicyName="flowlib-submit-gc",
                        PolicyDocument=_policy((["batch:SubmitJob"],
                                                [queue, unversioned, f"{unversioned}:*"])))
    request = {"JobName": f"doc-{suffix}-gc", "JobQueue": queue, "JobDefinition": definition}
    schedule = scheduler.create_schedule(
        Name=f"doc-{suffix}-gc", ScheduleExpression="cron(0 3 * * ? *)",
        FlexibleTimeWindow={"Mode": "OFF"}, State="ENABLED",
        Target={"Arn": "arn:aws:scheduler:::aws-sdk:batch:submitJob",
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/doc-{suffix}-sched",
                "Input": json.dumps(request)},
    )["ScheduleArn"]
    config = {"retention_gc_schedule_arn": schedule, "s3_bucket": moto_stack.bucket,
              "s3_prefix": "flowlib", "dynamodb_table": table}
    return {"session": _Session(moto_stack), "config": config, "suffix": suffix,
            "request": request, "gc_policy": gc_policy}


def test_a_sound_chain_passes_and_each_broken_link_is_named(gc_chain: Any,
                                                            moto_stack: Any) -> None:
    session, config, suffix = gc_chain["session"], gc_chain["config"], gc_chain["suffix"]
    line = check_gc_schedule(session, config)
    assert f"schedule doc-{suffix}-gc ENABLED (cron(0 3 * * ? *)" in line
    assert f"as doc-{suffix}-gc; no gc job in the last days" in line

    iam = moto_stack.client("iam")
    # The gc role lost its delete right on the environment's prefix.
    narrowed = json.loads(gc_chain["gc_policy"])
    narrowed["Statement"][0]["Resource"] = [f"arn:aws:s3:::{moto_stack.bucket}/other/*"]
    iam.put_role_policy(RoleName=f"doc-{suffix}-gc", PolicyName="flowlib-gc",
                        PolicyDocument=json.dumps(narrowed))
    with pytest.raises(GcCheckError, match=rf"gc role doc-{suffix}-gc lacks "
                                           rf"s3:DeleteObjectVersion on s3://{moto_stack.bucket}/flowlib"):
        check_gc_schedule(session, config)
    iam.put_role_policy(RoleName=f"doc-{suffix}-gc", PolicyName="flowlib-gc",
                        PolicyDocument=gc_chain["gc_policy"])

    # The schedule was disabled by hand.
    scheduler = moto_stack.client("scheduler")
    current = scheduler.get_schedule(Name=f"doc-{suffix}-gc")
    scheduler.update_schedule(Name=f"doc-{suffix}-gc", State="DISABLED",
                              ScheduleExpression=current["ScheduleExpression"],
                              FlexibleTimeWindow=current["FlexibleTimeWindow"],
                              Target=current["Target"])
    with pytest.raises(GcCheckError, match=f"schedule doc-{suffix}-gc is DISABLED"):
        check_gc_schedule(session, config)
    scheduler.update_schedule(Name=f"doc-{suffix}-gc", State="ENABLED",
                              ScheduleExpression=current["ScheduleExpression"],
                              FlexibleTimeWindow=current["FlexibleTimeWindow"],
                              Target=current["Target"])

    # The last gc job failed (no Docker engine behind this moto server: every job fails).
    batch = moto_stack.client("batch")
    request = gc_chain["request"]
    job_id = batch.submit_job(jobName=request["JobName"], jobQueue=request["JobQueue"],
                              jobDefinition=request["JobDefinition"])["jobId"]
    deadline = time.monotonic() + 60
    while batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] != "FAILED":
        assert time.monotonic() < deadline, "moto's job did not fail"
        time.sleep(0.5)
    with pytest.raises(GcCheckError, match=rf"the last gc job \({job_id}, .*\) FAILED"):
        check_gc_schedule(session, config)
