"""@trigger(s3=...) on moto: the rule ``step-functions create`` makes on the default bus, its
pattern against S3's "Object Created" events, the input transformation of the object's key
into the parameter, and one run per event.

Two kinds of events are sent: events built exactly as AWS documents S3's EventBridge
notifications (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html), sent
with PutEvents (AWS itself refuses ``aws.*`` sources from PutEvents; moto accepts them, which
is what makes the documented shape testable), and real PutObject calls on a bucket with
EventBridge notifications on, for which moto emits the event itself. What the rule matched is
observed through SQS targets the test adds: one plain, one carrying the state machine
target's own input transformer, so moto applies the transformation (to PutEvents entries;
moto skips transformers for the S3 events it emits itself). moto cannot start a state
machine from a rule, so the test starts the execution with exactly that transformed input (as
test_sfn_triggers.py does) and the state machine really runs.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.remote.stepfunctions.conftest import REPO
from tests.remote.stepfunctions.test_sfn_triggers import environment, finish, received, watch
from tests.support.backends import Backend

FLOW = REPO / "tests" / "flows" / "remote" / "sfn_s3_flow.py"


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
    refused = s3_backend.run(FLOW, "step-functions", "create", expect=None)
    assert refused.returncode != 0
    assert f"S3 bucket '{bucket}' does not send notifications to EventBridge" in refused.stderr
    assert "Traceback" not in refused.stderr
    name = f"{environment(s3_backend)}-S3Flow"
    machines = sfn_stack.client("stepfunctions").list_state_machines()["stateMachines"]
    assert name not in {m["name"] for m in machines}

    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    out = s3_backend.run(FLOW, "step-functions", "create").stdout
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
    deleted = s3_backend.run(FLOW, "step-functions", "delete", "--yes").stdout
    assert f"rule {name}-t0" in deleted
    assert not events.list_rules(NamePrefix=name, EventBusName="default")["Rules"]
