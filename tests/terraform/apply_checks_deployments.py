"""What the applied stack promises for deployments, checked with boto3 against the moto
server as `platform doctor` checks them where it can: the Step Functions roles and log group,
the events bus and role, the HTTP endpoint, and the scheduled gc, whose job really runs."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.terraform.apply_checks import Clients, Session, as_list, document
from tests.terraform.ci_stack import ENVIRONMENT, NAME, REGION
from tests.terraform.retention_checks import (
    GC_TARGET_SUFFIX,
    check_gc_role_policy,
    check_scheduler_role_policy,
    gc_input,
    submit_job_kwargs,
)


def check_step_functions(clients: Clients, config: dict[str, Any]) -> None:
    """The roles and log group `step-functions create` needs, checked as `platform doctor`
    checks them (existence and trusted service)."""
    from flowlib.remote.stepfunctions.doctor import check_stack


    assert config["sfn_role_arn"] and config["scheduler_role_arn"]
    assert config["sfn_log_group_arn"]
    assert "present" in check_stack(Session(clients), config)

    # Scoped to the names flowlib gives this environment's deployments (<environment>-<flow>,
    # flowlib/remote/stepfunctions/naming.py), not to the stack's own name prefix.
    from tests.security.iam_eval import ALLOW, IMPLICIT_DENY, evaluate

    account = config["sfn_role_arn"].split(":")[4]
    machines = f"arn:aws:states:{REGION}:{account}:stateMachine"
    definitions = f"arn:aws:batch:{REGION}:{account}:job-definition"

    def policy(role_arn: str, name: str) -> dict[str, Any]:
        return document(clients.iam.get_role_policy(
            RoleName=role_arn.rsplit("/", 1)[-1], PolicyName=name)["PolicyDocument"])

    scheduler = policy(config["scheduler_role_arn"], "flowlib-start-executions")
    assert evaluate([scheduler], "states:StartExecution",
                    f"{machines}:{ENVIRONMENT}-TrainFlow") == ALLOW
    assert evaluate([scheduler], "states:StartExecution", f"{machines}:prod-TrainFlow") \
        == IMPLICIT_DENY
    sfn = policy(config["sfn_role_arn"], "flowlib-step-functions")
    assert evaluate([sfn], "batch:SubmitJob", f"{definitions}/{ENVIRONMENT}-TrainFlow-start:1") \
        == ALLOW
    assert evaluate([sfn], "batch:SubmitJob", f"{definitions}/prod-TrainFlow-start:1") \
        == IMPLICIT_DENY


def check_events(clients: Clients, config: dict[str, Any], outputs: dict[str, Any]) -> None:
    """The environment's bus, the EventBridge role scoped to the environment's state machines,
    PutEvents on that bus only for the task role, and the artifact bucket's EventBridge
    notifications (seen working: a PutObject reaches a rule on the default bus)."""
    from flowlib.remote.stepfunctions.doctor import check_events
    from tests.security.iam_eval import ALLOW, IMPLICIT_DENY, evaluate


    bus = config["event_bus_name"]
    assert bus == NAME
    bus_arn = outputs["event_bus_arn"]["value"]
    assert clients.events.describe_event_bus(Name=bus)["Arn"] == bus_arn
    account = bus_arn.split(":")[4]

    role_name = config["events_role_arn"].rsplit("/", 1)[-1]
    role = clients.iam.get_role(RoleName=role_name)["Role"]
    trust = document(role["AssumeRolePolicyDocument"])
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}
    policy = document(clients.iam.get_role_policy(
        RoleName=role_name, PolicyName="flowlib-start-executions")["PolicyDocument"])
    [start] = policy["Statement"]
    assert as_list(start["Action"]) == ["states:StartExecution"]
    assert as_list(start["Resource"]) == [
        f"arn:aws:states:{REGION}:{account}:stateMachine:{ENVIRONMENT}-*"]
    assert clients.iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
    machines = f"arn:aws:states:{REGION}:{account}:stateMachine"
    assert evaluate([policy], "states:StartExecution", f"{machines}:ci-TrainFlow") == ALLOW
    for other in (f"{machines}:prod-TrainFlow", f"{machines}:TrainFlow"):
        assert evaluate([policy], "states:StartExecution", other) == IMPLICIT_DENY
    assert evaluate([policy], "states:StopExecution", f"{machines}:ci-TrainFlow") == IMPLICIT_DENY

    task_role = config["task_role_arn"].rsplit("/", 1)[-1]
    put = document(clients.iam.get_role_policy(
        RoleName=task_role, PolicyName="flowlib-put-events")["PolicyDocument"])
    [publish] = put["Statement"]
    assert as_list(publish["Action"]) == ["events:PutEvents"]
    assert as_list(publish["Resource"]) == [bus_arn]
    default_bus = bus_arn.rsplit("/", 1)[0] + "/default"
    assert evaluate([put], "events:PutEvents", default_bus) == IMPLICIT_DENY

    sqs = clients.sqs
    url = sqs.create_queue(QueueName="ci-bucket-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    bucket = config["s3_bucket"]
    clients.events.put_rule(Name="ci-bucket-events", EventPattern=json.dumps(
        {"source": ["aws.s3"], "detail-type": ["Object Created"],
         "detail": {"bucket": {"name": [bucket]}}}))
    clients.events.put_targets(Rule="ci-bucket-events", Targets=[{"Id": "q", "Arn": arn}])
    # moto denies every put under the bucket's conditional Deny policy (see terraform/README):
    # lifted for the probe only, restored as it was (the plan below must find no change).
    bucket_policy = clients.s3.get_bucket_policy(Bucket=bucket)["Policy"]
    clients.s3.delete_bucket_policy(Bucket=bucket)
    try:
        clients.s3.put_object(Bucket=bucket, Key="incoming/probe.csv", Body=b"a,b\n",
                              ServerSideEncryption="aws:kms",
                              SSEKMSKeyId=config["s3_kms_key_arn"])
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        [event] = [json.loads(m["Body"]) for m in messages]
        assert (event["detail-type"], event["detail"]["object"]["key"]) == (
            "Object Created", "incoming/probe.csv")
        assert "present" in check_events(Session(clients), config)
    finally:
        versions = clients.s3.list_object_versions(Bucket=bucket, Prefix="incoming/")
        for version in versions.get("Versions", []):
            clients.s3.delete_object(Bucket=bucket, Key=version["Key"],
                                     VersionId=version["VersionId"])
        clients.s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy)
        clients.events.remove_targets(Rule="ci-bucket-events", Ids=["q"])
        clients.events.delete_rule(Name="ci-bucket-events")
        sqs.delete_queue(QueueUrl=url)


def check_retention_gc(clients: Clients, config: dict[str, Any],
                        outputs: dict[str, Any]) -> None:
    """The schedule submits the gc job definition to the default queue as a role that may only
    submit it; the job runs as a role that may delete only under the environment's prefix and
    in its table; its profile is the environment's; submitted as the schedule's target says, it
    runs `flowlib gc --yes` on the stores Terraform made, the environment's and the project's
    (empty: nothing to delete) and exits 0;
    `platform doctor`'s check follows the same chain."""
    from flowlib.config.writing import profile_from_stack_output, project_profiles_from_stack_output
    from platform_cli.gc_doctor import check_gc_schedule

    gc = outputs["retention_gc"]["value"]
    assert config["retention_gc_schedule_arn"] == gc["schedule_arn"]
    assert gc["job_queue_arn"] == config["batch_default_job_queue"]
    group, name = gc["schedule_arn"].split(":schedule/", 1)[1].split("/", 1)
    schedule = clients.scheduler.get_schedule(GroupName=group, Name=name)
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert schedule["State"] == "ENABLED"
    target = schedule["Target"]
    assert target["Arn"].endswith(GC_TARGET_SUFFIX)
    assert target["RoleArn"] == gc["scheduler_role_arn"]
    request = gc_input(target)
    assert request == {"JobName": f"{NAME}-gc", "JobQueue": gc["job_queue_arn"],
                       "JobDefinition": gc["job_definition_arn"]}

    iam = clients.iam
    role_name = gc["role_arn"].rsplit("/", 1)[-1]
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == ["flowlib-gc"]
    assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
    project = config["projects"]["vision"]
    project_table_arn = clients.dynamodb.describe_table(
        TableName=project["dynamodb_table"])["Table"]["TableArn"]
    check_gc_role_policy(
        iam.get_role_policy(RoleName=role_name, PolicyName="flowlib-gc")["PolicyDocument"],
        outputs["s3_bucket_arn"]["value"], [config["s3_prefix"], project["s3_prefix"]],
        [outputs["dynamodb_table_arn"]["value"], project_table_arn],
        outputs["kms_key_arn"]["value"])
    scheduler_role = gc["scheduler_role_arn"].rsplit("/", 1)[-1]
    check_scheduler_role_policy(
        iam.get_role_policy(RoleName=scheduler_role, PolicyName="flowlib-submit-gc")[
            "PolicyDocument"], gc["job_queue_arn"], gc["job_definition_arn"])

    definition = clients.batch.describe_job_definitions(
        jobDefinitions=[gc["job_definition_arn"]])["jobDefinitions"][0]
    container = definition["containerProperties"]
    assert container["jobRoleArn"] == gc["role_arn"]
    assert container["image"] == config["image"]
    assert container["command"][:2] == ["python", "-c"]
    environment = {e["name"]: e["value"] for e in container["environment"]}
    profiles = json.loads(environment["FLOWLIB_GC_CONFIG_JSON"])["profiles"]
    stack_profiles = {ENVIRONMENT: profile_from_stack_output(config),
                      **project_profiles_from_stack_output(config)}
    assert sorted(profiles) == [ENVIRONMENT, f"{ENVIRONMENT}-vision"]
    for name, profile in profiles.items():
        assert profile.items() <= stack_profiles[name].items(), (
            f"the gc job's profile {name} differs from the one platform writes")
    assert "no gc job" in check_gc_schedule(Session(clients), config)

    job_id = clients.batch.submit_job(**submit_job_kwargs(request))["jobId"]
    deadline = time.monotonic() + 300
    while True:
        job = clients.batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if job["status"] in ("SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            break
        time.sleep(1)
    output = job_log(clients, job)
    assert job["status"] == "SUCCEEDED", f"gc job {job['status']}: {output}"
    for name in (ENVIRONMENT, f"{ENVIRONMENT}-vision"):
        assert f"$ flowlib gc --profile {name} --yes" in output, output
    assert "policy: keep the last 20 runs per flow and branch, runs younger than 30 days" in output
    assert "SUCCEEDED" in check_gc_schedule(Session(clients), config)


def job_log(clients: Clients, job: dict[str, Any]) -> str:
    stream = job.get("container", {}).get("logStreamName")
    if not stream:
        return "(no log stream)"
    for group in (f"/aws/batch/{NAME}", "/aws/batch/job"):
        try:
            events = clients.logs.get_log_events(logGroupName=group, logStreamName=stream)
        except Exception:  # noqa: BLE001 - moto writes to one of the two groups
            continue
        return "\n".join(e["message"] for e in events["events"])
    return f"(log stream {stream} not found)"


def check_http_api(clients: Clients, config: dict[str, Any], outputs: dict[str, Any],
                    package_sha256: str) -> None:
    """Two routes, both AWS_IAM (nothing public), both integrated with the function through
    a payload-2.0 proxy integration; the function runs flowlib's handler from the package
    `platform` built, with the environment's stores; only this API may invoke it."""
    import base64

    api_url = config["http_api_url"]
    api = next(a for a in clients.apigatewayv2.get_apis()["Items"]
               if a["ApiEndpoint"] == api_url)
    assert api["ProtocolType"] == "HTTP" and outputs["http_api_url"]["value"] == api_url
    routes = {r["RouteKey"]: r for r in clients.apigatewayv2.get_routes(ApiId=api["ApiId"])[
        "Items"]}
    assert set(routes) == {"POST /flows/{flow}/runs", "GET /flows/{flow}/runs/{id}"}
    assert {r["AuthorizationType"] for r in routes.values()} == {"AWS_IAM"}
    integrations = {i["IntegrationId"]: i for i in clients.apigatewayv2.get_integrations(
        ApiId=api["ApiId"])["Items"]}
    function = getattr(clients, "lambda").get_function(
        FunctionName=f"{NAME}-flowlib-http-api")["Configuration"]
    for route in routes.values():
        integration = integrations[route["Target"].removeprefix("integrations/")]
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert integration["PayloadFormatVersion"] == "2.0"
        assert function["FunctionArn"] in integration["IntegrationUri"]
    stages = clients.apigatewayv2.get_stages(ApiId=api["ApiId"])["Items"]
    assert [s["StageName"] for s in stages] == ["$default"] and stages[0]["AutoDeploy"]
    assert function["Handler"] == "flowlib.http_api.handler.handler"
    assert base64.b64decode(function["CodeSha256"]).hex() == package_sha256
    variables = function["Environment"]["Variables"]
    assert variables["FLOWLIB_S3_BUCKET"] == config["s3_bucket"]
    assert variables["FLOWLIB_DYNAMODB_TABLE"] == config["dynamodb_table"]
    assert variables["FLOWLIB_ENVIRONMENT"] == ENVIRONMENT
    policy = json.loads(getattr(clients, "lambda").get_policy(
        FunctionName=function["FunctionName"])["Policy"])
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    source = statement["Condition"]["ArnLike"]["AWS:SourceArn"]
    assert source.startswith(f"arn:aws:execute-api:{REGION}:") and api["ApiId"] in source
    role_name = function["Role"].rsplit("/", 1)[-1]
    document = clients.iam.get_role_policy(RoleName=role_name, PolicyName="flowlib-http-api")[
        "PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    starts = next(s for s in document["Statement"]
                  if s["Sid"] == "StartTheEnvironmentsStateMachines")
    assert starts["Resource"].endswith(f":stateMachine:{ENVIRONMENT}-*")
