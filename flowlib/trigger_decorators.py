"""``@trigger`` and ``@trigger_on_finish``: flow-level decorators read by
``step-functions create`` (Metaflow's names and options). They only record values on the
class; the EventBridge rules are made by ``triggers``.

    @trigger(event="data_ready")
    @trigger(events=["data_ready", {"name": "backfill", "parameters": {"day": "date"}}])
    @trigger(event={"name": "data_ready", "parameters": {"table": "table_name"}})
    @trigger_on_finish(flow="IngestFlow")          # or flows=["IngestFlow", "CleanFlow"]

``parameters`` maps a flow parameter to a field of the event's payload (``{"param":
"field"}``), or lists parameters read from the fields of the same name (``["table"]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flowlib.exceptions import FlowlibError

_FIELD = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_FLOW = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


@dataclass(frozen=True)
class EventTrigger:
    """Start the flow when an event called ``name`` is published."""

    name: str
    parameters: dict[str, str] = field(default_factory=dict)  # parameter -> payload field


@dataclass(frozen=True)
class FlowTrigger:
    """Start the flow when a production run of ``flow`` finishes successfully."""

    flow: str


def _event(spec: Any) -> EventTrigger:
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise FlowlibError(f"@trigger: an event is a name or {{'name': ..., 'parameters': "
                           f"{{...}}}}, not {spec!r}.")
    unknown = set(spec) - {"name", "parameters"}
    if unknown:
        raise FlowlibError(f"@trigger(event={spec!r}): unknown keys {sorted(unknown)}; use "
                           "'name' and 'parameters'.")
    raw = spec.get("parameters") or {}
    if isinstance(raw, (list, tuple)):
        raw = {name: name for name in raw}
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                            for k, v in raw.items()):
        raise FlowlibError(f"@trigger(event={spec!r}): 'parameters' maps parameter names to "
                           "payload fields ({'alpha': 'field'}) or lists parameter names.")
    for payload_field in raw.values():
        if not _FIELD.match(payload_field):
            raise FlowlibError(f"@trigger(event={spec!r}): payload field {payload_field!r} "
                               "must be 1-128 letters, digits, '_', '-' or '.'.")
    return EventTrigger(spec["name"], dict(sorted(raw.items())))


def trigger(cls: type | None = None, *, event: Any = None, events: list[Any] | None = None
            ) -> Any:
    """Start the deployed flow when an event is published (``Event(name).publish(...)``)."""
    if cls is not None or (event is None) == (events is None):
        raise FlowlibError("@trigger needs exactly one of event=... or events=[...].")
    specs = [event] if event is not None else list(events or [])
    if not specs:
        raise FlowlibError("@trigger(events=[]): name at least one event.")
    found = [_event(spec) for spec in specs]

    def apply(flow_cls: type) -> type:
        flow_cls._flowlib_triggers = [*flow_triggers(flow_cls), *found]  # type: ignore
        return flow_cls

    return apply


def trigger_on_finish(cls: type | None = None, *, flow: str | None = None,
                      flows: list[str] | None = None) -> Any:
    """Start the deployed flow when a production run of another deployed flow succeeds."""
    if cls is not None or (flow is None) == (flows is None):
        raise FlowlibError("@trigger_on_finish needs exactly one of flow='...' or "
                           "flows=[...].")
    names = [flow] if flow is not None else list(flows or [])
    if not names or not all(isinstance(n, str) and _FLOW.match(n) for n in names):
        raise FlowlibError(f"@trigger_on_finish: flow names are class names such as "
                           f"'IngestFlow', got {names!r}.")
    found = [FlowTrigger(name) for name in names]

    def apply(flow_cls: type) -> type:
        flow_cls._flowlib_triggers = [*flow_triggers(flow_cls), *found]  # type: ignore
        return flow_cls

    return apply


def flow_triggers(flow_cls: type) -> list[EventTrigger | FlowTrigger]:
    return list(getattr(flow_cls, "_flowlib_triggers", []))
