"""``Event``: publish an event that starts deployed flows (Metaflow's ``@trigger`` events).

    from flowlib import Event
    Event("data_ready").publish({"table": "sales", "day": "2026-11-29"})

An event is one EventBridge ``PutEvents`` entry on the environment's event bus (the profile's
``event_bus_name``, else the account's ``default`` bus): ``Source`` ``flowlib``,
``DetailType`` the event's name, ``Detail`` ``{"name": ..., "payload": {...}}``. The rules
``step-functions create`` makes for ``@trigger(event=...)`` match on source and name and map
payload fields to the flow's parameters (flowlib/remote/stepfunctions/triggers.py).
``flow_finished`` is the event a production run of a deployed flow publishes when it ends
successfully; ``@trigger_on_finish`` rules match it.
"""

from __future__ import annotations

import json
from typing import Any

from flowlib.exceptions import FlowlibError

SOURCE = "flowlib"
FLOW_FINISHED = "flowlib.flow_finished"
DEFAULT_BUS = "default"
MAX_DETAIL_BYTES = 200_000  # PutEvents' entry limit is 256 KiB in all


class EventError(FlowlibError):
    """The event cannot be published; the message says what to fix."""


def event_bus(profile: Any) -> str:
    return (profile["event_bus_name"] if profile is not None else None) or DEFAULT_BUS


class Event:
    """A named event. ``publish(payload=None)`` sends it and returns EventBridge's event id;
    the payload is a JSON object whose fields ``@trigger`` may map to parameters."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name or len(name) > 128:
            raise EventError(f"Event({name!r}): the name is a string of 1-128 characters.")
        self.name = name

    def entry(self, payload: dict[str, Any] | None, bus: str) -> dict[str, Any]:
        if payload is not None and not isinstance(payload, dict):
            raise EventError(f"Event({self.name!r}).publish: the payload is a dict of JSON "
                             f"values, not {type(payload).__name__}.")
        try:
            detail = json.dumps({"name": self.name, "payload": payload or {}}, sort_keys=True)
        except TypeError as exc:
            raise EventError(f"Event({self.name!r}).publish: the payload must be JSON: "
                             f"{exc}.") from None
        if len(detail.encode()) > MAX_DETAIL_BYTES:
            raise EventError(f"Event({self.name!r}).publish: the payload is larger than "
                             f"{MAX_DETAIL_BYTES} bytes; publish a reference (an S3 key) "
                             "instead.")
        return {"Source": SOURCE, "DetailType": self.name, "Detail": detail,
                "EventBusName": bus}

    def publish(self, payload: dict[str, Any] | None = None, *, bus: str | None = None
                ) -> str:
        from flowlib.stores import open_stores

        profile = open_stores().profile
        if profile is None or not profile.is_aws:
            raise EventError(f"Event({self.name!r}).publish needs an AWS profile (events go "
                             "to the environment's EventBridge bus): select one with "
                             "FLOWLIB_PROFILE.")
        return put_event(profile, self.entry(payload, bus or event_bus(profile)))

    def __repr__(self) -> str:
        return f"Event({self.name!r})"


def put_event(profile: Any, entry: dict[str, Any]) -> str:
    from flowlib.config.aws import AwsContext

    answer = AwsContext(profile).client("events").put_events(Entries=[entry])
    result = answer["Entries"][0]
    if answer.get("FailedEntryCount") or "EventId" not in result:
        raise EventError(f"EventBridge refused event {entry['DetailType']!r} on bus "
                         f"{entry['EventBusName']!r}: {result.get('ErrorCode')} "
                         f"{result.get('ErrorMessage')}")
    return result["EventId"]


def flow_finished_entry(profile: Any, flow: str, run_id: str, tags: list[str]) -> dict[str, Any]:
    """The event a production run publishes when it succeeds (``@trigger_on_finish``)."""
    project = next((t.split(":", 1)[1] for t in tags if t.startswith("project:")), None)
    branch = next((t.split(":", 1)[1] for t in tags if t.startswith("project_branch:")), None)
    payload = {"flow": flow, "run_id": run_id, "pathspec": f"{flow}/{run_id}",
               "status": "succeeded", "project": project, "project_branch": branch}
    return Event(FLOW_FINISHED).entry(payload, event_bus(profile))
