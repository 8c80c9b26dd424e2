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

``@trigger(s3="s3://bucket/prefix/")`` rules live on the ``default`` bus whatever the
profile says: S3 sends a bucket's EventBridge notifications there only (in the bucket's own
account and region). The pattern matches ``source`` ``aws.s3``, ``detail-type`` ``Object
Created``, ``detail.bucket.name`` and a ``prefix`` filter on ``detail.object.key``; the input
transformer puts ``s3://<bucket>/<key>`` in ``trigger.object`` and maps object fields to
parameters (by default ``key`` to a parameter named ``key``). Every S3 event has its own id,
so the same guard gives one run per created object. EventBridge carries the key as stored
(not URL-encoded, unlike S3's SQS/SNS notifications); like any mapped string it must not
hold a double quote or a backslash (the template is filled without escaping).

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
from flowlib.events import DEFAULT_BUS, FLOW_FINISHED, SOURCE, event_bus
from flowlib.exceptions import FlowlibError
from flowlib.remote.stepfunctions.naming import Deployment
from flowlib.trigger_decorators import S3_FIELDS, AnyTrigger, EventTrigger, S3Trigger

S3_SOURCE = "aws.s3"
S3_CREATED = "Object Created"
# Folders flowlib itself writes under the profile's s3_prefix (besides one per flow).
FLOWLIB_FOLDERS = ("stepfunctions", "_platform")

MAX_RULE_NAME = 64
GUARD = "trigger.once"
TARGET_ID = "flowlib-state-machine"


class TriggerError(FlowlibError):
    """A trigger cannot be deployed; the message says what to fix."""


# -- checks before anything is created -------------------------------------------------------
def resolve_triggers(flow_cls: type, triggers: list[AnyTrigger]) -> list[AnyTrigger]:
    """The triggers with each S3 trigger's default parameter mapping made explicit."""
    from dataclasses import replace

    from flowlib.parameters import flow_parameters

    names = {p.name for p in flow_parameters(flow_cls).values()}
    return [replace(t, parameters=t.mapping(names)) if isinstance(t, S3Trigger) else t
            for t in triggers]


def check_triggers(flow_cls: type, triggers: list[AnyTrigger], profile: Any) -> list[str]:
    """Raise TriggerError listing every problem before anything is created; return warnings
    (S3 buckets whose EventBridge notifications cannot be confirmed)."""
    from flowlib.parameters import flow_parameters

    if not triggers:
        return []
    names = {p.name for p in flow_parameters(flow_cls).values()}
    problems: list[str] = []
    warnings: list[str] = []
    for found in triggers:
        if isinstance(found, EventTrigger):
            for param in found.parameters:
                if param not in names:
                    problems.append(f"@trigger event {found.name!r} maps unknown parameter "
                                    f"{param!r} (the flow's parameters: "
                                    f"{', '.join(sorted(names)) or 'none'})")
        elif isinstance(found, S3Trigger):
            for param in found.mapping(names):
                if param not in names:
                    problems.append(f"@trigger s3 {found.url!r} maps unknown parameter "
                                    f"{param!r} (the flow's parameters: "
                                    f"{', '.join(sorted(names)) or 'none'})")
            if profile is not None:
                problems += _self_triggering(found, flow_cls.__name__, profile)
    if profile is not None and not profile["events_role_arn"]:
        problems.append("the profile has no events_role_arn (the role EventBridge starts the "
                        "state machine with): apply the Terraform stack with "
                        "enable_events = true and refresh the profile (`platform init ENV`), "
                        "or set FLOWLIB_EVENTS_ROLE_ARN")
    if profile is not None and not problems:
        buckets = sorted({t.bucket for t in triggers if isinstance(t, S3Trigger)})
        for bucket in buckets:
            problem, warning = _bucket_sends_events(profile, bucket)
            problems += [problem] if problem else []
            warnings += [warning] if warning else []
    if problems:
        raise TriggerError("Cannot deploy the flow's triggers:\n  " + "\n  ".join(problems))
    return warnings


def _self_triggering(found: S3Trigger, flow: str, profile: Any) -> list[str]:
    """A prefix of the environment's bucket holding flowlib's own writes would start a run
    per artifact written, each run writing more: refused."""
    if found.bucket != profile["s3_bucket"]:
        return []
    base = (profile["s3_prefix"] or "").strip("/")
    base = f"{base}/" if base else ""
    covers_all = base.startswith(found.prefix)
    first = found.prefix[len(base):].split("/", 1)[0] if found.prefix.startswith(base) else None
    if covers_all or first in (*FLOWLIB_FOLDERS, flow):
        where = f"s3://{found.bucket}/{base}"
        return [f"@trigger s3 {found.url!r} covers where flowlib writes this environment's "
                f"artifacts ({where}...): every artifact written would start a run. Trigger "
                f"on a prefix of its own, e.g. s3://{found.bucket}/{base}incoming/"]
    return []


def _bucket_sends_events(profile: Any, bucket: str) -> tuple[str | None, str | None]:
    """(problem, warning) about whether ``bucket``'s object-created events reach this
    account's default bus in the profile's region."""
    from botocore.exceptions import ClientError

    from flowlib.config.aws import AwsContext

    s3 = AwsContext(profile).client("s3")
    enable = ("add it to the stack's s3_event_buckets and `platform apply`, or turn on "
              "'Send notifications to Amazon EventBridge' in the bucket's properties")
    try:
        region = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
        region = {"EU": "eu-west-1"}.get(region, region)  # the legacy answer for Ireland
        config = s3.get_bucket_notification_configuration(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket", "404"):
            return f"S3 bucket {bucket!r} does not exist", None
        return None, (f"cannot confirm that S3 bucket {bucket!r} sends events to EventBridge "
                      f"({code}): events arrive only if the bucket is in this account and "
                      f"region with EventBridge notifications on ({enable})")
    if region != profile["region"]:
        return (f"S3 bucket {bucket!r} is in {region}; its events reach EventBridge in "
                f"{region} only, and this environment is in {profile['region']}"), None
    if "EventBridgeConfiguration" not in config:
        return (f"S3 bucket {bucket!r} does not send notifications to EventBridge: "
                f"{enable}"), None
    return None, None


# -- the rules ---------------------------------------------------------------------------
def rule_name(deployment: Deployment, index: int) -> str:
    name = f"{deployment.name}-t{index}"
    if len(name) <= MAX_RULE_NAME:
        return name
    digest = hashlib.sha256(deployment.name.encode()).hexdigest()[:8]
    return f"{deployment.name[:MAX_RULE_NAME - 12]}-{digest}-t{index}"[:MAX_RULE_NAME]


def rule_bus(found: AnyTrigger, profile: Any) -> str:
    """S3 sends its events to the default bus only; flowlib's events go to the profile's."""
    return DEFAULT_BUS if isinstance(found, S3Trigger) else event_bus(profile)


def event_pattern(found: AnyTrigger, deployment: Deployment) -> dict[str, Any]:
    if isinstance(found, EventTrigger):
        return {"source": [SOURCE], "detail-type": [found.name]}
    if isinstance(found, S3Trigger):
        detail: dict[str, Any] = {"bucket": {"name": [found.bucket]}}
        if found.prefix:
            detail["object"] = {"key": [{"prefix": found.prefix}]}
        return {"source": [S3_SOURCE], "detail-type": [S3_CREATED], "detail": detail}
    payload: dict[str, Any] = {"flow": [found.flow], "status": ["succeeded"]}
    if deployment.project:  # the upstream deployment of the same project branch
        payload["project"] = [deployment.project]
        payload["project_branch"] = [deployment.branch]
    return {"source": [SOURCE], "detail-type": [FLOW_FINISHED], "detail": {"payload": payload}}


def input_transformer(found: AnyTrigger, default_parameters: str) -> dict[str, Any]:
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
    elif isinstance(found, S3Trigger):
        paths.update(bucket=S3_FIELDS["bucket"], key=S3_FIELDS["key"])
        url = "s3://<bucket>/<key>"
        trigger.update(type="s3", object=url)
        for param, field in sorted((found.parameters or {}).items()):
            if field == "url":
                parameters[param] = url
            else:
                var = field if field in ("bucket", "key") else f"o_{field}"
                paths[var] = S3_FIELDS[field]
                parameters[param] = f"<{var}>"
    else:
        paths["run"] = "$.detail.payload.pathspec"
        trigger.update(type="run", run="<run>")
    template = json.dumps({"defaults": default_parameters, "trigger": trigger,
                           "parameters": parameters}, sort_keys=True)
    return {"InputPathsMap": paths, "InputTemplate": template}


def ensure_rules(aws: Any, profile: Any, deployment: Deployment, state_machine_arn: str,
                 triggers: list[AnyTrigger], default_parameters: str,
                 previous: list[tuple[str, str]], changes: list[str]) -> dict[str, str]:
    """Create or update one rule per trigger; delete the previous ones no longer wanted.
    ``previous`` lists (rule, bus) pairs; the result maps each rule's name to its bus."""
    events = aws.client("events")
    placed: dict[str, str] = {}
    for index, found in enumerate(triggers):
        name = rule_name(deployment, index)
        bus = rule_bus(found, profile)
        placed[name] = bus
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
    for name, bus in sorted(set(previous)):
        if placed.get(name) != bus:  # gone, or moved to another bus
            if delete_rule(events, bus, name) == "deleted":
                changes.append(f"deleted rule {name} on bus {bus} (no trigger uses it now)")
    return placed


def delete_rules(aws: Any, rules: list[tuple[str, str]]) -> list[str]:
    """Delete the rules ((name, bus) pairs) of a deployment."""
    events = aws.client("events")
    removed = []
    for name, bus in rules:
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


def describe(found: AnyTrigger) -> str:
    if isinstance(found, EventTrigger):
        mapped = ", ".join(f"{p} <- {f}" for p, f in found.parameters.items())
        return f"event {found.name}" + (f" ({mapped})" if mapped else "")
    if isinstance(found, S3Trigger):
        mapped = ", ".join(f"{p} <- {f}" for p, f in (found.parameters or {}).items())
        return f"objects created under {found.url}" + (f" ({mapped})" if mapped else "")
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
    from flowlib.names import tag_problem

    found = raw.get("object") or None
    if found and tag_problem(f"trigger_object:{found}") is not None:
        found = None  # longer than a tag holds: mapped parameters still carry the key
    trigger = Trigger(str(raw.get("type") or "event"), str(raw.get("name") or ""),
                      str(raw.get("event_id") or ""), raw.get("run") or None, found)
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
