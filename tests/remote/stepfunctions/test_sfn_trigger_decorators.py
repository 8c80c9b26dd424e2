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


@pytest.mark.parametrize("spec,message", [
    ("bucket/prefix/", "is an S3 URL"),
    ("s3://Bad_Bucket/x/", "not an S3 bucket name"),
    ("s3://ab/x/", "not an S3 bucket name"),
    ("s3://my-bucket/data/*.csv", "matched literally"),
    ({"url": "s3://my-bucket/x/", "parameters": {"path": "name"}}, "unknown object field"),
    ({"url": "s3://my-bucket/x/", "suffix": ".csv"}, "unknown keys"),
    ([], "at least one S3 location"),
])
def test_bad_s3_trigger_is_one_clear_error(spec, message: str) -> None:  # noqa: ANN001
    with pytest.raises(FlowlibError, match=message):
        trigger(s3=spec)


def test_s3_rules_and_mapping() -> None:
    from flowlib import FlowSpec, Parameter, step
    from flowlib.remote.stepfunctions.triggers import resolve_triggers
    from flowlib.trigger_decorators import S3Trigger, flow_triggers

    @trigger(s3=["s3://landing/in/", {"url": "s3://landing/raw/",
                                      "parameters": {"where": "url", "nbytes": "size"}}])
    class Landing(FlowSpec):
        key = Parameter("key", default="")
        nbytes = Parameter("nbytes", default=0)
        where = Parameter("where", default="")

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    default, explicit = resolve_triggers(Landing, flow_triggers(Landing))
    assert default == S3Trigger("landing", "in/", {"key": "key"})
    assert event_pattern(explicit, Deployment("Landing", None, None, "dev")) == {
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["landing"]}, "object": {"key": [{"prefix": "raw/"}]}}}
    transformer = input_transformer(explicit, "defaults-key")
    assert transformer["InputPathsMap"]["o_size"] == "$.detail.object.size"
    values = {"<event_id>": "e1", "<event_name>": "Object Created", "<bucket>": "landing",
              "<key>": "raw/a b.csv", "<o_size>": "42"}
    filled = transformer["InputTemplate"]
    for placeholder, value in values.items():
        filled = filled.replace(placeholder, value)
    assert json.loads(filled) == {
        "defaults": "defaults-key", "parameters": {"nbytes": "42",
                                                   "where": "s3://landing/raw/a b.csv"},
        "trigger": {"type": "s3", "name": "Object Created", "event_id": "e1",
                    "object": "s3://landing/raw/a b.csv"}}
    # No `key` parameter and no mapping: the run starts with the defaults.
    assert S3Trigger("landing", "in/").mapping({"alpha"}) == {}


def test_s3_trigger_checks_before_anything_is_created() -> None:
    from flowlib import FlowSpec, step
    from flowlib.remote.stepfunctions.triggers import check_triggers
    from flowlib.trigger_decorators import S3Trigger

    class Plain(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    profile = {"s3_bucket": "artifacts", "s3_prefix": "flowlib", "events_role_arn": "arn:x",
               "region": "us-east-1"}
    for prefix in ("", "flow", "flowlib/", "flowlib/Plain/", "flowlib/stepfunctions/"):
        with pytest.raises(FlowlibError, match="every artifact written would start a run"):
            check_triggers(Plain, [S3Trigger("artifacts", prefix, {})], profile)
    with pytest.raises(FlowlibError, match="maps unknown parameter 'path'"):
        check_triggers(Plain, [S3Trigger("landing", "in/", {"path": "key"})], None)
