"""@trigger and @trigger_on_finish on moto: the EventBridge rules ``step-functions create``
makes, their event patterns (PutEvents with matching and non-matching events, observed through
an SQS target each test adds to the rule), the input transformation into parameters, at most
one run per event, the flow-finished event of a production run, and ``delete``.

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
