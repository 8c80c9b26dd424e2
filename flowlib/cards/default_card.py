"""The default card's content: parameters, artifacts with previews, timings, the graph."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from markupsafe import Markup

from flowlib.cards.components import Artifact, CardComponent, Html, Section, Table

# Inherited artifacts bigger than this are listed (type, size) but not loaded for a preview.
PREVIEW_LOAD_LIMIT = 1 << 20


def default_components(flow: Any, pathspec: str, graph: Any, step: str, started: float,
                       status: str, parameter_names: list[str]) -> list[CardComponent]:
    parts: list[CardComponent] = []
    if flow is not None:
        state = getattr(flow, "_task", None)
        names = sorted(set(_own(flow)) | set(getattr(state, "inherited", {}) or {}))
        params = [n for n in parameter_names if n in names]
        if params:
            parts.append(Section("Parameters", [Table(
                [[n, _value(flow, n)] for n in params], ["name", "value"])]))
        artifacts = [n for n in names if n not in params]
        if artifacts:
            parts.append(Section("Artifacts", [_artifact(flow, state, n) for n in artifacts]))
    now = time.time()
    parts.append(Section("Timings", [Table([
        ["status", status],
        ["started", _when(started)],
        ["ended" if status != "running" else "now", _when(now)],
        ["duration", f"{now - started:.2f} s"],
    ], ["", ""])]))
    if graph is not None:
        parts.append(Section("Flow graph", [_graph(graph, step, status)]))
    return parts


def _own(flow: Any) -> list[str]:
    return [n for n in vars(flow) if not n.startswith("_")]


def _value(flow: Any, name: str) -> str:
    try:
        return repr(getattr(flow, name))[:200]
    except Exception as exc:  # noqa: BLE001
        return f"(cannot load: {exc})"


def _artifact(flow: Any, state: Any, name: str) -> CardComponent:
    ref = (getattr(state, "inherited", {}) or {}).get(name)
    if name not in vars(flow) and ref is not None and ref.size > PREVIEW_LOAD_LIMIT:
        return Table([[name, f"{ref.type}, {ref.size:,} bytes stored (not loaded)"]])
    return Artifact(getattr(flow, name), name=name)


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _graph(graph: Any, step: str, status: str) -> CardComponent:
    from flowlib.cards.graph_view import layout_graph
    from flowlib.cards.render import component_macro

    return Html(Markup(component_macro("graph")(layout_graph(graph), {step: status}, {}, step)))
