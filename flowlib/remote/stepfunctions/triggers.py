"""EventBridge rules that start a deployment: ``@trigger`` and ``@trigger_on_finish``.

``step-functions create`` makes one rule per trigger on the environment's bus (the profile's
``event_bus_name``, else ``default``), named after the deployment (``<name>-t<i>``) and tagged
like everything else it creates; the deployment record lists them so ``delete`` removes
exactly those. Each rule's one target is the state machine, started with the profile's
``events_role_arn``, and an input transformer that builds the execution input from the event:

    {"defaults": "<key of the parameter defaults>",
     "trigger": {"type": "event", "name": <detail-type>, "event_id": <id>, "run": ...},
     "parameters": {"<param>": <detail.payload.<field>>, ...}}

At most one run per event. EventBridge delivers at least once, and a rule's Step Functions
target cannot choose the execution's name (EventBridge names it), so the name cannot carry
the event id. Instead the state machine of a triggered deployment starts with a guard: a
conditional DynamoDB ``PutItem`` of ``SFN#<deployment>#event#<event id>`` in the metadata table
(``attribute_not_exists``); a second delivery of the same event fails the condition and the
execution ends at once (``Succeed``, "duplicate event") before any run is allocated. Executions
started by ``trigger``, ``resume`` or a schedule carry no ``trigger.event_id`` and skip it.

The start task (``entry``) then allocates the run with system tags recording what started it
(``trigger:event``, ``trigger_event:<name>``, ``trigger_event_id:<id>``, and
``trigger_run:<Flow/id>`` for ``@trigger_on_finish``), read back as ``Run(...).trigger`` and
``current.trigger``; mapped payload fields override the parameters' defaults.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flowlib.current import Trigger
from flowlib.events import FLOW_FINISHED, SOURCE, event_bus
from flowlib.exceptions import FlowlibError
from flowlib.remote.stepfunctions.naming import Deployment
from flowlib.trigger_decorators import EventTrigger, FlowTrigger

MAX_RULE_NAME = 64
GUARD = "trigger.once"
TARGET_ID = "flowlib-state-machine"


class TriggerError(FlowlibError):
    """A trigger cannot be deployed; the message says what to fix."""


# -- checks before anything is created -------------------------------------------------------
def check_triggers(flow_cls: type, triggers: list[EventTrigger | FlowTrigger],
                   profile: Any) -> None:
    from flowlib.parameters import flow_parameters

    if not triggers:
        return
    names = {p.name for p in flow_parameters(flow_cls).values()}
    problems = []
    for found in triggers:
        if isinstance(found, EventTrigger):
            for param in found.parameters:
                if param not in names:
                    problems.append(f"@trigger event {found.name!r} maps unknown parameter "
                                    f"{param!r} (the flow's parameters: "
                                    f"{', '.join(sorted(names)) or 'none'})")
    if profile is not None and not profile["events_role_arn"]:
        problems.append("the profile has no events_role_arn (the role EventBridge starts the "
                        "state machine with): apply the Terraform stack with "
                        "create_step_functions = true and refresh the profile, or set "
                        "FLOWLIB_EVENTS_ROLE_ARN")
    if problems:
        raise TriggerError("Cannot deploy the flow's triggers:\n  " + "\n  ".join(problems))


# -- the rules ---------------------------------------------------------------------------
def rule_name(deployment: Deployment, index: int) -> str:
    name = f"{deployment.name}-t{index}"
    if len(name) <= MAX_RULE_NAME:
        return name
    digest = hashlib.sha256(deployment.name.encode()).hexdigest()[:8]
    return f"{deployment.name[:MAX_RULE_NAME - 12]}-{digest}-t{index}"[:MAX_RULE_NAME]


def event_pattern(found: EventTrigger | FlowTrigger, deployment: Deployment) -> dict[str, Any]:
    if isinstance(found, EventTrigger):
        return {"source": [SOURCE], "detail-type": [found.name]}
    payload: dict[str, Any] = {"flow": [found.flow], "status": ["succeeded"]}
    if deployment.project:  # the upstream deployment of the same project branch
        payload["project"] = [deployment.project]
        payload["project_branch"] = [deployment.branch]
    return {"source": [SOURCE], "detail-type": [FLOW_FINISHED], "detail": {"payload": payload}}


def input_transformer(found: EventTrigger | FlowTrigger, default_parameters: str
                      ) -> dict[str, Any]:
    """EventBridge's ``InputTransformer``: event fields into the execution input.

    Every placeholder stands inside quotes, so the input is valid JSON whatever the field
    holds (moto, like EventBridge for quoted placeholders, inserts the value's text): values
    arrive as strings, converted to the parameter's type by the start task (``coerce``), and an
    absent field gives ``""``, meaning "use the default". A payload string holding a double
    quote cannot be mapped this way (EventBridge would not escape it)."""
    paths = {"event_id": "$.id", "event_name": "$.detail-type"}
    trigger: dict[str, Any] = {"type": "event", "name": "<event_name>",
                               "event_id": "<event_id>"}
    parameters: dict[str, Any] = {}
    if isinstance(found, EventTrigger):
        for index, (param, field) in enumerate(sorted(found.parameters.items())):
            var = f"p{index}"
            paths[var] = f"$.detail.payload.{field}"
            parameters[param] = f"<{var}>"
    else:
        paths["run"] = "$.detail.payload.pathspec"
        trigger.update(type="run", run="<run>")
    template = json.dumps({"defaults": default_parameters, "trigger": trigger,
                           "parameters": parameters}, sort_keys=True)
    return {"InputPathsMap": paths, "InputTemplate": template}


def ensure_rules(aws: Any, profile: Any, deployment: Deployment, state_machine_arn: str,
                 triggers: list[EventTrigger | FlowTrigger], default_parameters: str,
                 previous: list[str], changes: list[str]) -> list[str]:
    """Create or update one rule per trigger; delete the previous ones no longer wanted."""
    events = aws.client("events")
    bus = event_bus(profile)
    names = []
    for index, found in enumerate(triggers):
        name = rule_name(deployment, index)
        names.append(name)
        pattern = json.dumps(event_pattern(found, deployment), sort_keys=True)
        target = {"Id": TARGET_ID, "Arn": state_machine_arn, "RoleArn": profile["events_role_arn"],
                  "InputTransformer": input_transformer(found, default_parameters)}
        try:
            current = events.describe_rule(Name=name, EventBusName=bus)
            targets = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
        except events.exceptions.ResourceNotFoundException:
            current, targets = None, []
        ours = [t for t in targets if t["Id"] == TARGET_ID]  # others are not ours to judge
        if current is not None and json.loads(current["EventPattern"]) == json.loads(pattern) \
                and ours == [target]:
            continue
        events.put_rule(Name=name, EventBusName=bus, EventPattern=pattern, State="ENABLED",
                        Description=f"flowlib: starts {deployment.name} ({describe(found)})",
                        Tags=[{"Key": k, "Value": v}
                              for k, v in sorted(deployment.resource_tags().items())])
        events.put_targets(Rule=name, EventBusName=bus, Targets=[target])
        changes.append(f"{'updated' if current else 'created'} rule {name}: {describe(found)}")
    for name in sorted(set(previous) - set(names)):
        delete_rule(events, bus, name)
        changes.append(f"deleted rule {name} (no trigger uses it now)")
    return names


def delete_rules(aws: Any, profile: Any, names: list[str]) -> list[str]:
    events = aws.client("events")
    bus = event_bus(profile)
    removed = []
    for name in names:
        outcome = delete_rule(events, bus, name)
        if outcome == "deleted":
            removed.append(f"rule {name}")
        elif outcome == "kept":
            removed.append(f"the target of rule {name} (the rule stays: it has targets "
                           "flowlib did not create)")
    return removed


def delete_rule(events: Any, bus: str, name: str) -> str:
    """Remove our target, then the rule unless someone else's targets remain on it."""
    try:
        targets = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
        if any(t["Id"] == TARGET_ID for t in targets):
            events.remove_targets(Rule=name, EventBusName=bus, Ids=[TARGET_ID])
        if any(t["Id"] != TARGET_ID for t in targets):
            return "kept"
        events.delete_rule(Name=name, EventBusName=bus)
    except events.exceptions.ResourceNotFoundException:
        return "absent"
    return "deleted"


def describe(found: EventTrigger | FlowTrigger) -> str:
    if isinstance(found, EventTrigger):
        mapped = ", ".join(f"{p} <- {f}" for p, f in found.parameters.items())
        return f"event {found.name}" + (f" ({mapped})" if mapped else "")
    return f"when {found.flow} finishes"


# -- the state machine's guard -----------------------------------------------------------
def add_event_guard(definition: dict[str, Any], table: str, deployment: Deployment) -> None:
    """Prefix the definition with the at-most-once-per-event guard (see the docstring)."""
    first = definition["StartAt"]
    states = definition["States"]
    states[GUARD] = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.trigger.event_id", "IsPresent": True,
                     "Next": f"{GUARD}.claim"}],
        "Default": first,
    }
    states[f"{GUARD}.claim"] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:putItem",
        "Parameters": {
            "TableName": table,
            "Item": {
                "pk": {"S.$": f"States.Format('SFN#{deployment.name}#event#{{}}', "
                              "$.trigger.event_id)"},
                "sk": {"S": "event"},
                "execution": {"S.$": "$$.Execution.Name"},
                "type": {"S": "sfn_event"},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        },
        "ResultPath": None,
        "Catch": [{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                   "ResultPath": None, "Next": f"{GUARD}.duplicate"}],
        "Next": first,
    }
    states[f"{GUARD}.duplicate"] = {"Type": "Succeed",
                                    "Comment": "this event already started an execution"}
    definition["StartAt"] = GUARD


# -- the run (called by entry in the start task) -----------------------------------------
def triggered_run(given: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """System tags recording what started the run, and the parameter values the event gave
    (``None``: the field was absent, the default applies)."""
    raw = given.get("trigger")
    if not isinstance(raw, dict):
        return ["trigger:schedule"], {}
    trigger = Trigger(str(raw.get("type") or "event"), str(raw.get("name") or ""),
                      str(raw.get("event_id") or ""), raw.get("run") or None)
    values = {k: v for k, v in (given.get("parameters") or {}).items()
              if v is not None and v != ""}
    return trigger.to_tags(), values


def coerce(value: Any, default: Any) -> Any:
    """An event field as the parameter's type (event payloads often carry strings)."""
    if not isinstance(value, str) or default is None or isinstance(default, str):
        return value
    if isinstance(default, bool):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, (int, float)):
        try:
            return type(default)(value)
        except ValueError:
            return value
    return value
