"""@trigger and @trigger_on_finish on moto: the EventBridge rules ``step-functions create``
makes, their event patterns (PutEvents with matching and non-matching events, observed through
an SQS target each test adds to the rule), the input transformation into parameters, at most
one run per event, the flow-finished event of a production run, and ``delete``; and
``@trigger(s3=...)`` against S3's "Object Created" events (at the end of the file).

moto's EventBridge matches patterns and delivers to SQS, but does not start Step Functions
targets. So the delivery to the state machine is played by ``deliver``: for an event moto
really matched and delivered (read back from the SQS queue), it applies the rule's target's
input transformer as EventBridge documents it (unquoted placeholders replaced by the field's
JSON value) and calls StartExecution on the target's state machine with a name of its own, as
EventBridge does. The state machine then really runs (moto's interpreter, Batch jobs as local
processes).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from tests.remote.stepfunctions.conftest import REPO
from tests.support.backends import Backend

FLOWS = REPO / "tests" / "flows" / "remote"
TRIGGERED = FLOWS / "sfn_triggered_flow.py"
AFTER = FLOWS / "sfn_after_flow.py"


@pytest.fixture
def events_backend(sfn_stack, sfn_backend: Backend, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
                   ) -> Backend:
    role = sfn_stack.client("iam").create_role(
        RoleName=f"flowlib-test-events-{uuid.uuid4().hex[:6]}",
        AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn_backend.env["FLOWLIB_EVENTS_ROLE_ARN"] = role
    monkeypatch.setenv("FLOWLIB_EVENTS_ROLE_ARN", role)
    from flowlib.stores import reset_stores

    reset_stores()
    return sfn_backend


def environment(backend: Backend) -> str:
    config = json.loads((backend.workdir / "flowlib-config.json").read_text())
    return config["profiles"]["sfn-test"]["environment"]


def rules_of(stack, prefix: str) -> dict[str, dict[str, Any]]:  # noqa: ANN001
    events = stack.client("events")
    return {r["Name"]: r for r in events.list_rules(NamePrefix=prefix)["Rules"]}


def watch(stack, rule: str, transformer: dict[str, Any] | None = None,  # noqa: ANN001
          target_id: str = "watch") -> str:
    """An SQS queue added as another target of ``rule``: what the rule really matched (with
    ``transformer``: what moto's input transformation of it gives)."""
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName=f"watch-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    target: dict[str, Any] = {"Id": target_id, "Arn": arn}
    if transformer is not None:
        target["InputTransformer"] = transformer
    stack.client("events").put_targets(Rule=rule, Targets=[target])
    return url


def received(stack, url: str) -> list[dict[str, Any]]:  # noqa: ANN001
    sqs = stack.client("sqs")
    found = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _field(event: dict[str, Any], path: str) -> Any:
    value: Any = event
    for part in path.removeprefix("$.").split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def transform(transformer: dict[str, Any], event: dict[str, Any]) -> str:
    """EventBridge's input transformer for placeholders in quotes: the value's text (a string
    as is, other values as JSON, an absent field as nothing)."""
    values = {var: _field(event, path) for var, path in transformer["InputPathsMap"].items()}

    def text(var: str) -> str:
        value = values[var]
        return "" if value is None else value if isinstance(value, str) else json.dumps(value)

    return re.sub(r"<([A-Za-z0-9_]+)>", lambda m: text(m.group(1)),
                  transformer["InputTemplate"])


def deliver(stack, rule: str, event: dict[str, Any]) -> str:  # noqa: ANN001
    """What the rule's state machine target does with ``event``: one StartExecution."""
    target = next(t for t in stack.client("events").list_targets_by_rule(Rule=rule)["Targets"]
                  if t["Arn"].startswith("arn:aws:states:"))
    assert target["RoleArn"]
    return stack.client("stepfunctions").start_execution(
        stateMachineArn=target["Arn"], name=uuid.uuid4().hex,
        input=transform(target["InputTransformer"], event))["executionArn"]


def finish(stack, arn: str, limit: float = 180) -> dict[str, Any]:  # noqa: ANN001
    """The execution once ended (it must succeed); its last history events otherwise."""
    import time

    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + limit
    while (found := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING" \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    history = sfn.get_execution_history(executionArn=arn)["events"]
    assert found["status"] == "SUCCEEDED", history[-4:]
    return found


def test_rules_match_their_events_and_delete_removes_them(sfn_stack, events_backend: Backend  # noqa: ANN001
                                                          ) -> None:
    from flowlib import Event

    out = events_backend.run(TRIGGERED, "step-functions", "create").stdout
    events_backend.run(AFTER, "step-functions", "create")
    assert "created rule" in out and "event backfill (count <- n, day <- date)" in out
    prefix = environment(events_backend)
    rules = rules_of(sfn_stack, prefix)
    assert set(rules) == {f"{prefix}-TriggeredFlow-t0", f"{prefix}-TriggeredFlow-t1",
                          f"{prefix}-AfterFlow-t0"}
    assert json.loads(rules[f"{prefix}-TriggeredFlow-t1"]["EventPattern"]) == {
        "source": ["flowlib"], "detail-type": ["backfill"]}
    queues = {rule: watch(sfn_stack, rule) for rule in rules}

    Event("data_ready").publish({"table": "sales"})
    Event("backfill").publish({"date": "2026-11-01", "n": "3"})
    Event("unrelated").publish({"date": "x"})
    from flowlib.events import flow_finished_entry, put_event
    from flowlib.stores import open_stores

    profile = open_stores().profile
    put_event(profile, flow_finished_entry(profile, "OtherFlow", "7", ["production"]))
    put_event(profile, flow_finished_entry(profile, "TriggeredFlow", "8", ["production"]))
    got = {rule: [(e["detail-type"], e["detail"]["payload"]) for e in received(sfn_stack, url)]
           for rule, url in queues.items()}
    assert got[f"{prefix}-TriggeredFlow-t0"] == [("data_ready", {"table": "sales"})]
    assert got[f"{prefix}-TriggeredFlow-t1"] == [("backfill", {"date": "2026-11-01", "n": "3"})]
    assert [(t, p["pathspec"]) for t, p in got[f"{prefix}-AfterFlow-t0"]] == [
        ("flowlib.flow_finished", "TriggeredFlow/8")]

    again = events_backend.run(TRIGGERED, "step-functions", "create").stdout
    assert "no changes" in again
    events = sfn_stack.client("events")
    kept = events_backend.run(TRIGGERED, "step-functions", "delete", "--yes").stdout
    assert "the rule stays: it has targets flowlib did not create" in kept
    for rule in queues:  # the test's own targets: then delete removes the rules too
        events.remove_targets(Rule=rule, Ids=["watch"])
    events_backend.run(TRIGGERED, "step-functions", "create")
    deleted = events_backend.run(TRIGGERED, "step-functions", "delete", "--yes").stdout
    assert "Deleted rule" in deleted
    assert set(rules_of(sfn_stack, prefix)) == {f"{prefix}-AfterFlow-t0"}
    events_backend.run(AFTER, "step-functions", "delete", "--yes")
    assert not rules_of(sfn_stack, prefix)


def test_event_starts_one_run_with_its_parameters_and_the_finish_starts_the_next(
        sfn_stack, events_backend: Backend) -> None:  # noqa: ANN001
    from flowlib import Event, Run
    from flowlib.stores import open_stores

    events_backend.run(TRIGGERED, "step-functions", "create")
    events_backend.run(AFTER, "step-functions", "create")
    rules = rules_of(sfn_stack, environment(events_backend))
    backfill = next(n for n in rules if n.endswith("-TriggeredFlow-t1"))
    after = next(n for n in rules if n.endswith("-AfterFlow-t0"))
    backfill_q, after_q = watch(sfn_stack, backfill), watch(sfn_stack, after)

    event_id = Event("backfill").publish({"date": "2026-11-01", "n": "3"})
    [event] = received(sfn_stack, backfill_q)
    assert event["id"] == event_id
    # EventBridge delivers at least once: the same event twice starts one run.
    first = finish(sfn_stack, deliver(sfn_stack, backfill, event))
    second = finish(sfn_stack, deliver(sfn_stack, backfill, event))
    meta = open_stores().metadata
    runs = list(meta.list_runs("TriggeredFlow"))
    assert len(runs) == 1, [r.run_id for r in runs]
    run = Run(f"TriggeredFlow/{runs[0].run_id}")
    assert run.successful
    assert run["start"].task.data.day == "2026-11-01"
    assert run["start"].task.data.total == 30  # "3" from the payload, an int like the default
    assert run.trigger is not None and (run.trigger.name, run.trigger.event_id) == (
        "backfill", event_id)
    assert run["start"].task.data.started_by == {"type": "event", "name": "backfill",
                                                  "event_id": event_id, "run": None,
                                                  "object": None}
    assert {"trigger:event", f"trigger_event_id:{event_id}"} <= set(run.system_tags)
    executions = {first["name"], second["name"]}
    assert any(EXEC in run.system_tags for EXEC in (
        f"step_functions_execution:{n}" for n in executions))

    # The production run's end published "flow finished"; AfterFlow's rule matched it.
    [finished] = received(sfn_stack, after_q)
    assert finished["detail"]["payload"]["pathspec"] == run.pathspec
    finish(sfn_stack, deliver(sfn_stack, after, finished))
    [downstream] = list(meta.list_runs("AfterFlow"))
    after_run = Run(f"AfterFlow/{downstream.run_id}")
    assert after_run.successful
    assert after_run.trigger.type == "run" and after_run.trigger.run == run.pathspec
    assert after_run["start"].task.data.started_by["run"] == run.pathspec


# -- @trigger(s3=...) ----------------------------------------------------------------
# @trigger(s3=...) on moto: the rule ``step-functions create`` makes on the default bus, its
# pattern against S3's "Object Created" events, the input transformation of the object's key
# into the parameter, and one run per event.
#
# Two kinds of events are sent: events built exactly as AWS documents S3's EventBridge
# notifications (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html), sent
# with PutEvents (AWS itself refuses ``aws.*`` sources from PutEvents; moto accepts them, which
# is what makes the documented shape testable), and real PutObject calls on a bucket with
# EventBridge notifications on, for which moto emits the event itself. What the rule matched is
# observed through SQS targets the test adds: one plain, one carrying the state machine
# target's own input transformer, so moto applies the transformation (to PutEvents entries;
# moto skips transformers for the S3 events it emits itself). moto cannot start a state
# machine from a rule, so the test starts the execution with exactly that transformed input (as
# ``deliver`` does above) and the state machine really runs.


S3_FLOW = FLOWS / "sfn_s3_flow.py"


def s3_event(bucket: str, key: str, size: int = 1024) -> dict[str, Any]:
    """A PutEvents entry holding S3's "Object Created" event as AWS documents it."""
    detail = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": {"key": key, "size": size, "etag": "b1946ac92492d2347c6235b4d2611184",
                   "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mppz",
                   "sequencer": "00617F08299329D189"},
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "1.2.3.4",
        "reason": "PutObject",
    }
    return {"Source": "aws.s3", "DetailType": "Object Created", "Detail": json.dumps(detail),
            "Resources": [f"arn:aws:s3:::{bucket}"]}


@pytest.fixture
def s3_backend(sfn_stack, sfn_backend: Backend, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
               ) -> Backend:
    role = sfn_stack.client("iam").create_role(
        RoleName=f"flowlib-test-events-{uuid.uuid4().hex[:6]}",
        AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    bucket = f"landing-{uuid.uuid4().hex[:12]}"
    sfn_stack.client("s3").create_bucket(Bucket=bucket)
    for key, value in (("FLOWLIB_EVENTS_ROLE_ARN", role), ("LANDING_BUCKET", bucket)):
        sfn_backend.env[key] = value
        monkeypatch.setenv(key, value)
    sfn_backend.landing = bucket  # type: ignore[attr-defined]
    from flowlib.stores import reset_stores

    reset_stores()
    return sfn_backend


def test_s3_trigger_matches_created_objects_and_starts_one_run_with_the_key(
        sfn_stack, s3_backend: Backend) -> None:  # noqa: ANN001
    from flowlib import Run
    from flowlib.stores import open_stores

    s3, events = sfn_stack.client("s3"), sfn_stack.client("events")
    bucket = s3_backend.landing  # type: ignore[attr-defined]

    # Notifications off: refused before anything is created.
    refused = s3_backend.run(S3_FLOW, "step-functions", "create", expect=None)
    assert refused.returncode != 0
    assert f"S3 bucket '{bucket}' does not send notifications to EventBridge" in refused.stderr
    assert "Traceback" not in refused.stderr
    name = f"{environment(s3_backend)}-S3Flow"
    machines = sfn_stack.client("stepfunctions").list_state_machines()["stateMachines"]
    assert name not in {m["name"] for m in machines}

    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    out = s3_backend.run(S3_FLOW, "step-functions", "create").stdout
    assert f"objects created under s3://{bucket}/incoming/ (key <- key)" in out
    rule = events.describe_rule(Name=f"{name}-t0", EventBusName="default")
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": "incoming/"}]}}}
    plain = watch(sfn_stack, rule["Name"])
    [target] = [t for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
                if t["Id"] == "flowlib-state-machine"]
    transformed = watch(sfn_stack, rule["Name"], target["InputTransformer"], "as-input")

    key = "incoming/2026-11-29/sales orders.csv"
    entries = [s3_event(bucket, key), s3_event(bucket, "outgoing/report.csv"),
               s3_event("someone-elses-bucket", key), s3_event(bucket, "incoming")]
    answer = events.put_events(Entries=entries)
    assert answer["FailedEntryCount"] == 0
    s3.put_object(Bucket=bucket, Key="incoming/real-put.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="elsewhere/real-put.json", Body=b"{}")

    matched = received(sfn_stack, plain)
    assert [(e["detail"]["bucket"]["name"], e["detail"]["object"]["key"]) for e in matched] == [
        (bucket, key), (bucket, "incoming/real-put.json")]
    # moto applies input transformers to PutEvents entries, not to the S3 events it emits
    # itself (those reach the queue untransformed): the documented event is the one to map.
    first, untransformed = received(sfn_stack, transformed)
    assert first["parameters"] == {"key": key}
    assert untransformed["detail"]["object"]["key"] == "incoming/real-put.json"
    assert first["trigger"] == {"type": "s3", "name": "Object Created",
                                "event_id": answer["Entries"][0]["EventId"],
                                "object": f"s3://{bucket}/{key}"}

    # EventBridge delivers at least once: the same event twice starts one run.
    sfn = sfn_stack.client("stepfunctions")
    for _ in range(2):
        finish(sfn_stack, sfn.start_execution(stateMachineArn=target["Arn"],
                                              name=uuid.uuid4().hex,
                                              input=json.dumps(first))["executionArn"])
    runs = list(open_stores().metadata.list_runs("S3Flow"))
    assert len(runs) == 1, [r.run_id for r in runs]
    run = Run(f"S3Flow/{runs[0].run_id}")
    assert run.successful and run["start"].task.data.seen == key
    assert run.trigger.type == "s3" and run.trigger.object == f"s3://{bucket}/{key}"
    assert run["start"].task.data.started_by["object"] == f"s3://{bucket}/{key}"

    for queue_target in ("watch", "as-input"):
        events.remove_targets(Rule=rule["Name"], Ids=[queue_target])
    deleted = s3_backend.run(S3_FLOW, "step-functions", "delete", "--yes").stdout
    assert f"rule {name}-t0" in deleted
    assert not events.list_rules(NamePrefix=name, EventBusName="default")["Rules"]
