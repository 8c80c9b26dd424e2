"""Events for producers outside Python: the exact ``aws events put-events`` call that
``Event(name).publish(payload)`` makes, for an environment, and publishing it from here.

The entry is built by ``flowlib.events.Event.entry`` (source ``flowlib``, detail-type the
event's name, detail ``{"name": ..., "payload": {...}}``, the environment's bus), so a shell
script, a Go or TypeScript service, or an operator starts exactly what Python would."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_cli.errors import PlatformError


@dataclass
class EventTarget:
    env: str
    region: str
    bus: str


def target_for(env: str) -> EventTarget:
    """The environment's region and event bus, from its flowlib profile."""
    from flowlib.events import DEFAULT_BUS
    from platform_cli import environments as envs
    from platform_cli import profiles

    envs.validate_name(env)
    profile = profiles.read(env)
    if profile is None:
        raise PlatformError(
            f"No flowlib profile '{env}' on this machine: it names the environment's region "
            "and event bus.",
            hint=f"`platform init {env}` writes it, or `platform configure import FILE` with a "
                 "file from ops")
    if not profile.get("region"):
        raise PlatformError(f"The flowlib profile '{env}' has no region.",
                            hint=f"re-run `platform apply {env}` to rewrite the profile")
    return EventTarget(env, profile["region"], profile.get("event_bus_name") or DEFAULT_BUS)


def read_payload(payload: str | None, payload_file: Path | None) -> dict[str, Any] | None:
    if payload is not None and payload_file is not None:
        raise PlatformError("Give the payload with --payload or --payload-file, not both.")
    text = payload if payload is not None else (
        payload_file.read_text() if payload_file is not None else None)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlatformError(f"The payload is not JSON: {exc}.",
                            hint='give an object, e.g. --payload \'{"date": "2026-11-29"}\'') \
            from None
    if not isinstance(value, dict):
        raise PlatformError(f"The payload is a JSON object of fields, not a "
                            f"{type(value).__name__}.",
                            hint='e.g. --payload \'{"date": "2026-11-29"}\'')
    return value


def entry(target: EventTarget, name: str, payload: dict[str, Any] | None) -> dict[str, Any]:
    """The PutEvents entry ``Event(name).publish(payload)`` sends (FlowlibError if invalid)."""
    from flowlib.events import Event

    return Event(name).entry(payload, target.bus)


def put_command(target: EventTarget, found: dict[str, Any]) -> str:
    """A shell line for the AWS CLI v2; the credentials are the caller's own."""
    entries = json.dumps([found], sort_keys=True, separators=(",", ":"))
    return f"aws events put-events --region {shlex.quote(target.region)} --entries " \
           f"{shlex.quote(entries)}"


def publish(target: EventTarget, found: dict[str, Any]) -> str:
    """Send the entry; returns EventBridge's event id."""
    from platform_cli.preflight import aws_session

    answer = aws_session(target.region).client("events").put_events(Entries=[found])
    result = answer["Entries"][0]
    if answer.get("FailedEntryCount") or "EventId" not in result:
        raise PlatformError(f"EventBridge refused the event on bus {target.bus}: "
                            f"{result.get('ErrorCode')} {result.get('ErrorMessage')}",
                            hint="the credentials need events:PutEvents on the bus")
    return result["EventId"]
