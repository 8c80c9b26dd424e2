"""``@trigger`` and ``@trigger_on_finish``: flow-level decorators read by
``step-functions create`` (Metaflow's names and options). They only record values on the
class; the EventBridge rules are made by ``triggers``.

    @trigger(event="data_ready")
    @trigger(events=["data_ready", {"name": "backfill", "parameters": {"day": "date"}}])
    @trigger(event={"name": "data_ready", "parameters": {"table": "table_name"}})
    @trigger_on_finish(flow="IngestFlow")          # or flows=["IngestFlow", "CleanFlow"]
    @trigger(s3="s3://landing-bucket/incoming/")   # or s3=[...]; dicts map parameters:
    @trigger(s3={"url": "s3://landing-bucket/incoming/", "parameters": {"path": "key"}})

``parameters`` maps a flow parameter to a field of the event's payload (``{"param":
"field"}``), or lists parameters read from the fields of the same name (``["table"]``).
For ``s3`` the fields are those of the created object (``S3_FIELDS``); without
``parameters``, a flow parameter named ``key`` receives the object's key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flowlib.exceptions import FlowlibError

_FIELD = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_FLOW = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# S3's bucket naming rules (general purpose buckets): 3-63 lower-case letters, digits, '.'
# and '-', starting and ending with a letter or digit.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# What an S3 trigger can map to parameters: field -> where EventBridge's "Object Created"
# event holds it ("url" is composed: s3://<bucket>/<key>).
S3_FIELDS = {
    "key": "$.detail.object.key",
    "bucket": "$.detail.bucket.name",
    "url": None,
    "size": "$.detail.object.size",
    "etag": "$.detail.object.etag",
    "version_id": "$.detail.object.version-id",
}
S3_DEFAULT_PARAMETERS = ("key",)  # mapped when the flow has them and `parameters` is not given


@dataclass(frozen=True)
class EventTrigger:
    """Start the flow when an event called ``name`` is published."""

    name: str
    parameters: dict[str, str] = field(default_factory=dict)  # parameter -> payload field


@dataclass(frozen=True)
class S3Trigger:
    """Start the flow when an object is created under ``s3://bucket/prefix``.

    ``parameters`` maps flow parameters to fields of the object (``S3_FIELDS``); ``None``
    means the default: ``key`` to a parameter named ``key`` if the flow has one."""

    bucket: str
    prefix: str
    parameters: dict[str, str] | None = None  # parameter -> object field; None: default

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def mapping(self, flow_parameters: set[str]) -> dict[str, str]:
        """The parameter mapping in effect for a flow with these parameter names."""
        if self.parameters is not None:
            return dict(self.parameters)
        return {name: name for name in S3_DEFAULT_PARAMETERS if name in flow_parameters}


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


def _s3(spec: Any) -> S3Trigger:
    if isinstance(spec, str):
        spec = {"url": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
        raise FlowlibError(f"@trigger(s3=...): give 's3://bucket/prefix/' or {{'url': "
                           f"'s3://bucket/prefix/', 'parameters': {{...}}}}, not {spec!r}.")
    unknown = set(spec) - {"url", "parameters"}
    if unknown:
        raise FlowlibError(f"@trigger(s3={spec!r}): unknown keys {sorted(unknown)}; use 'url' "
                           "and 'parameters'.")
    url = spec["url"]
    if not url.startswith("s3://"):
        raise FlowlibError(f"@trigger(s3={url!r}): the location is an S3 URL, "
                           "'s3://bucket/prefix/'.")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise FlowlibError(f"@trigger(s3={url!r}): {bucket!r} is not an S3 bucket name (3-63 "
                           "lower-case letters, digits, '.' and '-').")
    if "*" in prefix or any(ord(c) < 32 or ord(c) == 127 for c in prefix):
        raise FlowlibError(f"@trigger(s3={url!r}): the prefix is matched literally (no "
                           "wildcards, no control characters): 's3://bucket/incoming/'.")
    if len(prefix.encode()) > 1024:
        raise FlowlibError(f"@trigger(s3=...): the prefix is longer than S3's 1,024-byte "
                           f"keys: {prefix[:60]!r}...")
    raw = spec.get("parameters")
    if isinstance(raw, (list, tuple)):
        raw = {name: name for name in raw}
    if raw is not None:
        if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in raw.items()):
            raise FlowlibError(f"@trigger(s3={url!r}): 'parameters' maps parameter names to "
                               "object fields ({'path': 'key'}) or lists parameter names "
                               "that are field names (['key', 'bucket']).")
        bad = sorted(v for v in raw.values() if v not in S3_FIELDS)
        if bad:
            raise FlowlibError(f"@trigger(s3={url!r}): unknown object field {bad[0]!r}; the "
                               f"fields are {', '.join(S3_FIELDS)}.")
        raw = dict(sorted(raw.items()))
    return S3Trigger(bucket, prefix, raw)


def trigger(cls: type | None = None, *, event: Any = None, events: list[Any] | None = None,
            s3: Any = None) -> Any:
    """Start the deployed flow when an event is published (``Event(name).publish(...)``),
    or (``s3=``) when an object is created under an S3 prefix."""
    given = [x for x in (event, events, s3) if x is not None]
    if cls is not None or len(given) != 1:
        raise FlowlibError("@trigger needs exactly one of event=..., events=[...] or "
                           "s3='s3://bucket/prefix/' (stack several @trigger for more).")
    if s3 is not None:
        specs = list(s3) if isinstance(s3, (list, tuple)) else [s3]
        if not specs:
            raise FlowlibError("@trigger(s3=[]): name at least one S3 location.")
        found: list[Any] = [_s3(spec) for spec in specs]
    else:
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


AnyTrigger = EventTrigger | FlowTrigger | S3Trigger


def flow_triggers(flow_cls: type) -> list[AnyTrigger]:
    return list(getattr(flow_cls, "_flowlib_triggers", []))
