"""@trigger / @trigger_on_finish / Event: bad input is one clear error; what a rule holds is
computed from the decorators alone (no AWS)."""

from __future__ import annotations

import json

import pytest

from flowlib import Event, trigger, trigger_on_finish
from flowlib.exceptions import FlowlibError
from flowlib.remote.stepfunctions.naming import Deployment
from flowlib.remote.stepfunctions.triggers import event_pattern, input_transformer, rule_name
from flowlib.trigger_decorators import EventTrigger, FlowTrigger


@pytest.mark.parametrize("make,message", [
    (lambda: trigger(), "exactly one of event"),
    (lambda: trigger(event="a", events=["b"]), "exactly one of event"),
    (lambda: trigger(event={"name": "a", "params": {}}), "unknown keys"),
    (lambda: trigger(event={"name": "a", "parameters": {"x": 'bad"field'}}), "payload field"),
    (lambda: trigger_on_finish(flow="not a flow"), "class names"),
    (lambda: Event(""), "1-128 characters"),
])
def test_bad_decorator_input_is_one_clear_error(make, message: str) -> None:  # noqa: ANN001
    with pytest.raises(FlowlibError, match=message):
        make()


def test_payload_must_be_json() -> None:
    with pytest.raises(FlowlibError, match="must be JSON"):
        Event("x").entry({"when": object()}, "default")


def test_rules_from_the_decorators() -> None:
    deployment = Deployment("Flow", "churn", "prod", "dev")
    listed = EventTrigger("backfill", {"day": "date"})
    assert event_pattern(listed, deployment) == {"source": ["flowlib"],
                                                 "detail-type": ["backfill"]}
    assert event_pattern(FlowTrigger("Up"), deployment)["detail"]["payload"] == {
        "flow": ["Up"], "status": ["succeeded"], "project": ["churn"],
        "project_branch": ["prod"]}
    transformer = input_transformer(listed, "defaults-key")
    assert transformer["InputPathsMap"]["p0"] == "$.detail.payload.date"
    filled = transformer["InputTemplate"].replace("<p0>", "2026-01-01").replace(
        "<event_id>", "e1").replace("<event_name>", "backfill")
    assert json.loads(filled) == {"defaults": "defaults-key", "parameters": {"day": "2026-01-01"},
                                  "trigger": {"type": "event", "name": "backfill",
                                              "event_id": "e1"}}
    long = Deployment("F" * 80, None, None, None)
    assert len(rule_name(long, 3)) <= 64 and rule_name(long, 3).endswith("-t3")
