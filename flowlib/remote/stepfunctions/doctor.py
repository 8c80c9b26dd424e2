"""``platform doctor``'s Step Functions checks: the stack's roles and log group exist and the
roles trust the right services; the events role and the environment's event bus exist
(called with the environment's boto3 session)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from flowlib.exceptions import FlowlibError

_TRUST = {"sfn_role_arn": "states.amazonaws.com", "scheduler_role_arn": "scheduler.amazonaws.com"}


def check_stack(session: Any, config: dict[str, Any]) -> str:
    """One line when everything is there; raises FlowlibError naming what is not."""
    problems: list[str] = []
    found = _roles(session, config, _TRUST, problems)
    group = config.get("sfn_log_group_arn")
    if group:
        name = group.split(":log-group:", 1)[-1].removesuffix(":*")
        groups = session.client("logs").describe_log_groups(logGroupNamePrefix=name).get(
            "logGroups", [])
        if not any(g["logGroupName"] == name for g in groups):
            problems.append(f"log group {name} is missing")
        else:
            found.append(name)
    if problems:
        raise FlowlibError("; ".join(problems))
    return f"{', '.join(found)} present"


def check_events(session: Any, config: dict[str, Any]) -> str:
    """The role EventBridge starts state machines with trusts events.amazonaws.com, and the
    environment's event bus exists."""
    problems: list[str] = []
    found = _roles(session, config, {"events_role_arn": "events.amazonaws.com"}, problems)
    bus = config.get("event_bus_name")
    if not bus:
        problems.append("event_bus_name is not set")
    else:
        try:
            session.client("events").describe_event_bus(Name=bus)
            found.append(f"event bus {bus}")
        except Exception as exc:  # noqa: BLE001 - missing or access denied: one line
            problems.append(f"event bus {bus} cannot be read: {exc}")
    if problems:
        raise FlowlibError("; ".join(problems))
    return f"{', '.join(found)} present"


def _roles(session: Any, config: dict[str, Any], trust: dict[str, str], problems: list[str]
           ) -> list[str]:
    iam = session.client("iam")
    found = []
    for key, service in trust.items():
        arn = config.get(key)
        if not arn:
            problems.append(f"{key} is not set")
            continue
        name = arn.rsplit("/", 1)[-1]
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except Exception as exc:  # noqa: BLE001 - NoSuchEntity or access denied: one line
            problems.append(f"role {name} ({key}) cannot be read: {exc}")
            continue
        policy = role.get("AssumeRolePolicyDocument") or {}
        if isinstance(policy, str):
            policy = json.loads(unquote(policy))
        if service not in json.dumps(policy):
            problems.append(f"role {name} does not trust {service}")
        found.append(name)
    return found
