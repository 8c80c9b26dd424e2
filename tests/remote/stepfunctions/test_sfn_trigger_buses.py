"""Which bus each rule lives on (moto in-process): flowlib's events on the profile's bus, S3
triggers on the default bus (the only one S3 notifies), and a deployment made before the
environment had a bus of its own leaves no rule behind on the default bus when re-created."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from flowlib.remote.stepfunctions.deploy import Record
from flowlib.remote.stepfunctions.naming import Deployment
from flowlib.remote.stepfunctions.triggers import delete_rules, ensure_rules
from flowlib.trigger_decorators import EventTrigger, S3Trigger

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:dev-Flow"


class _Aws:
    def client(self, service: str):  # noqa: ANN201
        return boto3.client(service, region_name="us-east-1")


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("events", region_name="us-east-1")
        client.create_event_bus(Name="flowlib-dev")
        yield client


def _names(events, bus: str) -> set[str]:  # noqa: ANN001
    return {r["Name"] for r in events.list_rules(EventBusName=bus)["Rules"]}


def test_rules_move_to_the_environments_bus_and_s3_rules_stay_on_default(events) -> None:  # noqa: ANN001
    deployment = Deployment("Flow", None, None, "dev")
    triggers = [EventTrigger("data_ready"), S3Trigger("landing", "in/", {"key": "key"})]
    before = {"events_role_arn": "arn:aws:iam::123456789012:role/ev", "event_bus_name": None}
    changes: list[str] = []
    placed = ensure_rules(_Aws(), before, deployment, ARN, triggers, "d", [], changes)
    assert placed == {"dev-Flow-t0": "default", "dev-Flow-t1": "default"}
    legacy = Record("dev-Flow", "Flow", ARN, rules=list(placed))  # written before rule_buses

    after = {**before, "event_bus_name": "flowlib-dev"}
    changes = []
    placed = ensure_rules(_Aws(), after, deployment, ARN, triggers, "d",
                          legacy.placed_rules(after), changes)
    assert placed == {"dev-Flow-t0": "flowlib-dev", "dev-Flow-t1": "default"}
    assert _names(events, "flowlib-dev") == {"dev-Flow-t0"}
    assert _names(events, "default") == {"dev-Flow-t1"}
    assert "deleted rule dev-Flow-t0 on bus default (no trigger uses it now)" in changes

    record = Record("dev-Flow", "Flow", ARN, rules=list(placed), rule_buses=placed)
    removed = delete_rules(_Aws(), record.placed_rules(after))
    assert sorted(removed) == ["rule dev-Flow-t0", "rule dev-Flow-t1"]
    assert not _names(events, "flowlib-dev") and not _names(events, "default")


def test_doctor_checks_the_events_role_and_bus(events) -> None:  # noqa: ANN001
    import json

    from flowlib.exceptions import FlowlibError
    from flowlib.remote.stepfunctions.doctor import check_events

    iam = boto3.client("iam", region_name="us-east-1")

    def role(name: str, service: str) -> str:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": service}}]}))[
            "Role"]["Arn"]

    config = {"events_role_arn": role("ev-wrong", "states.amazonaws.com"),
              "event_bus_name": "flowlib-gone"}
    with pytest.raises(FlowlibError) as found:
        check_events(_Aws(), config)
    assert "ev-wrong does not trust events.amazonaws.com" in str(found.value)
    assert "event bus flowlib-gone cannot be read" in str(found.value)
    config = {"events_role_arn": role("ev-ok", "events.amazonaws.com"),
              "event_bus_name": "flowlib-dev"}
    assert check_events(_Aws(), config) == "ev-ok, event bus flowlib-dev present"
