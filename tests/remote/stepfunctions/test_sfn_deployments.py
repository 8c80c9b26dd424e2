"""Deployments on moto: @schedule in EventBridge Scheduler (expression and time zone),
@project branches as separate state machines, run tags, create's change report and delete
removing exactly what create made."""

from __future__ import annotations

import json

import pytest

from tests.remote.stepfunctions.conftest import REPO
from tests.support.backends import Backend

FLOW = REPO / "tests" / "flows" / "remote" / "sfn_scheduled_flow.py"
LINEAR = REPO / "tests" / "flows" / "linear_flow.py"


def machines(stack) -> dict[str, str]:  # noqa: ANN001
    found = stack.client("stepfunctions").list_state_machines()["stateMachines"]
    return {m["name"]: m["stateMachineArn"] for m in found}


def test_schedule_and_project_branches(sfn_stack, sfn_backend: Backend) -> None:  # noqa: ANN001
    env = json.loads((sfn_backend.workdir / "flowlib-config.json").read_text())
    prefix = env["profiles"]["sfn-test"]["environment"]
    out = {b: sfn_backend.run(FLOW, "step-functions", "create", *args).stdout
           for b, args in (("a", ("--branch", "a")), ("b", ("--branch", "b")),
                           ("prod", ("--production",)))}
    names = {f"{prefix}-churn-test_a-ScheduledFlow", f"{prefix}-churn-test_b-ScheduledFlow",
             f"{prefix}-churn-prod-ScheduledFlow"}
    assert names <= set(machines(sfn_stack))
    assert "created schedule" in out["prod"]
    scheduler = sfn_stack.client("scheduler")
    schedule = scheduler.get_schedule(Name=f"{prefix}-churn-prod-ScheduledFlow")
    assert schedule["ScheduleExpression"] == "cron(0 2 ? * 2-6 *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert schedule["Target"]["Arn"] == machines(sfn_stack)[f"{prefix}-churn-prod-ScheduledFlow"]
    assert json.loads(schedule["Target"]["Input"])["defaults"]
    again = sfn_backend.run(FLOW, "step-functions", "create", "--production")
    assert "no changes" in again.stdout

    proc = sfn_backend.run(FLOW, "step-functions", "trigger", "--branch", "a", "--alpha", "2",
                           "--wait", timeout=300)
    pathspec = proc.stdout.split()[1]
    from flowlib import Run

    run = Run(pathspec)
    assert run.successful and run["start"].task.data.doubled == 4
    assert {"project:churn", "project_branch:test.a", "trigger:manual"} <= set(run.system_tags)
    assert "production" not in run.system_tags
    listed = sfn_backend.run(FLOW, "step-functions", "list-runs", "--branch", "a",
                             "--output", "json")
    assert [r["run"] for r in json.loads(listed.stdout)] == [pathspec]

    batch = sfn_stack.client("batch")
    record = json.loads(sfn_stack.client("s3").get_object(
        Bucket=sfn_stack.stack.bucket,
        Key=f"{env['profiles']['sfn-test']['s3_prefix']}/stepfunctions/"
            f"{prefix}-churn-prod-ScheduledFlow.json")["Body"].read())
    # gc keeps what each deployment runs (its code package and parameter defaults) for as
    # long as it is deployed, whatever the retention policy; delete releases it.
    from flowlib.stores import open_stores

    blobs = open_stores().make_blobstore("ScheduledFlow")
    held = blobs.held_keys()
    assert {record["default_parameters"]} < held and len(blobs.list_entries("holds/")) == 3
    deleted = sfn_backend.run(FLOW, "step-functions", "delete", "--production", "--yes")
    assert "Deleted schedule" in deleted.stdout
    assert len(blobs.list_entries("holds/")) == 2
    assert f"{prefix}-churn-prod-ScheduledFlow" not in machines(sfn_stack)
    assert f"{prefix}-churn-test_a-ScheduledFlow" in machines(sfn_stack)  # nothing else
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name=f"{prefix}-churn-prod-ScheduledFlow")
    for name in record["job_definitions"]:
        assert not batch.describe_job_definitions(jobDefinitionName=name,
                                                  status="ACTIVE")["jobDefinitions"]
    missing = sfn_backend.run(FLOW, "step-functions", "trigger", "--production", expect=1)
    assert "not deployed" in missing.stderr and "Traceback" not in missing.stderr


def test_clear_errors_before_anything_is_created(sfn_stack, sfn_backend: Backend) -> None:  # noqa: ANN001
    proc = sfn_backend.run(LINEAR, "step-functions", "create", "--branch", "x", expect=1)
    assert "--branch and --production need @project" in proc.stderr
    local = {"FLOWLIB_CONFIG": "env", "FLOWLIB_PROFILE": "",
             "FLOWLIB_DATASTORE_ROOT": str(sfn_backend.workdir / "store")}
    proc = sfn_backend.run(LINEAR, "step-functions", "create", env=local, expect=1)
    assert "needs an AWS profile" in proc.stderr and "Traceback" not in proc.stderr


def test_doctor_checks_the_roles_and_log_group(sfn_stack) -> None:  # noqa: ANN001
    from flowlib.exceptions import FlowlibError
    from flowlib.remote.stepfunctions.doctor import check_stack

    class Session:
        def client(self, service: str):  # noqa: ANN202
            return sfn_stack.client(service)

    iam, logs = sfn_stack.client("iam"), sfn_stack.client("logs")

    def trust(service: str) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}]})

    sfn_role = iam.create_role(RoleName="doctor-sfn", AssumeRolePolicyDocument=trust(
        "states.amazonaws.com"))["Role"]["Arn"]
    wrong = iam.create_role(RoleName="doctor-wrong", AssumeRolePolicyDocument=trust(
        "ecs-tasks.amazonaws.com"))["Role"]["Arn"]
    logs.create_log_group(logGroupName="/aws/vendedlogs/states/doctor")
    group = logs.describe_log_groups(logGroupNamePrefix="/aws/vendedlogs/states/doctor")[
        "logGroups"][0]["arn"]
    config = {"sfn_role_arn": sfn_role, "scheduler_role_arn": wrong, "sfn_log_group_arn": group}
    with pytest.raises(FlowlibError, match="doctor-wrong does not trust scheduler.amazonaws.com"):
        check_stack(Session(), config)
    config["scheduler_role_arn"] = iam.create_role(
        RoleName="doctor-scheduler",
        AssumeRolePolicyDocument=trust("scheduler.amazonaws.com"))["Role"]["Arn"]
    assert "doctor-sfn, doctor-scheduler" in check_stack(Session(), config)
