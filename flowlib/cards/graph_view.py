"""A flow's graph laid out for drawing (SVG): steps in rows by distance from ``start``.

Shared by the default card and the web UI, which colour each step by its status. The layout is
plain numbers; the SVG itself comes from the ``graph`` macro of ``templates/components.html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 150, 38, 24, 34, 10


@dataclass
class GraphLayout:
    width: int
    height: int
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)


def layout(steps: list[tuple[str, list[str], str]]) -> GraphLayout:
    """Lay out ``(name, next steps, kind)`` triples; back edges (recursive switches) are drawn
    but do not push a step further down."""
    names = [name for name, _, _ in steps]
    out = {name: [t for t in targets if t in names] for name, targets, _ in steps}
    kinds = {name: kind for name, _, kind in steps}
    depth: dict[str, int] = {}
    first = "start" if "start" in out else (names[0] if names else None)
    order = _topological(first, out) if first else []
    for name in order:
        depth.setdefault(name, 0)
        for target in out[name]:
            if order.index(target) > order.index(name):
                depth[target] = max(depth.get(target, 0), depth[name] + 1)
    for name in names:  # unreachable steps go at the bottom
        depth.setdefault(name, max(depth.values(), default=-1) + 1)
    rows: dict[int, list[str]] = {}
    for name in names:
        rows.setdefault(depth[name], []).append(name)
    widest = max((len(r) for r in rows.values()), default=1)
    width = widest * (BOX_W + GAP_X) - GAP_X + 2 * PAD
    height = len(rows) * (BOX_H + GAP_Y) - GAP_Y + 2 * PAD if rows else 2 * PAD
    where: dict[str, tuple[int, int]] = {}
    result = GraphLayout(width, height)
    for level, members in sorted(rows.items()):
        row_width = len(members) * (BOX_W + GAP_X) - GAP_X
        x0 = (width - row_width) // 2
        for i, name in enumerate(members):
            x, y = x0 + i * (BOX_W + GAP_X), PAD + level * (BOX_H + GAP_Y)
            where[name] = (x, y)
            result.nodes.append({"name": name, "x": x, "y": y, "w": BOX_W, "h": BOX_H,
                                 "kind": kinds[name]})
    for name in names:
        x, y = where[name]
        for target in out[name]:
            tx, ty = where[target]
            result.edges.append({"x1": x + BOX_W // 2, "y1": y + BOX_H,
                                 "x2": tx + BOX_W // 2, "y2": ty, "back": ty <= y})
    return result


def _topological(first: str, out: dict[str, list[str]]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:  # depth-first post-order, reversed below
        seen.add(name)
        for target in out[name]:
            if target not in seen:
                visit(target)
        order.append(name)

    visit(first)
    return order[::-1]


def layout_graph(graph: Any) -> GraphLayout:
    """The layout of a ``FlowGraph``."""
    return layout([(node.name, list(node.out_funcs), node.type) for node in graph])


def describe(graph: Any) -> list[dict[str, Any]]:
    """The graph as data, recorded with a run so the UI can draw it without the flow's code."""
    return [{"name": node.name, "next": list(node.out_funcs), "type": node.type}
            for node in graph]


def layout_description(steps: list[dict[str, Any]]) -> GraphLayout:
    return layout([(s["name"], list(s.get("next", [])), s.get("type", "linear")) for s in steps])
