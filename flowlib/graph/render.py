"""Text of ``python flow.py show``: the steps in order, what each does and where it goes."""

from __future__ import annotations

import inspect

from flowlib.graph.model import FlowGraph, StepNode

INDENT = "    "


def render(graph: FlowGraph) -> str:
    """Describe the flow step by step, in the order the steps run (Metaflow's ``show``)."""
    lines = [graph.name]
    doc = inspect.cleandoc(graph.flow_cls.__doc__) if graph.flow_cls.__doc__ else ""
    if doc:
        lines += [(INDENT + line).rstrip() for line in doc.splitlines()]
    for node in graph:
        lines.append("")
        lines += [f"@{getattr(d, 'name', type(d).__name__)}" for d in node.decorators]
        lines.append(f"Step {node.name} ({node.type})")
        summary = node.doc.splitlines()[0] if node.doc else "(no docstring)"
        lines.append(INDENT + summary)
        arrow = _arrow(node)
        if arrow:
            lines.append(INDENT + arrow)
    return "\n".join(lines) + "\n"


def _arrow(node: StepNode) -> str:
    if node.transition in ("end", "none"):
        return ""
    if node.transition == "switch" and node.switch_cases:
        cases = ", ".join(
            f"{value!r}: {step}" + (" (again, a loop)" if step == node.name else "")
            for value, step in node.switch_cases.items()
        )
        return f"=> {cases} (condition: self.{node.condition})"
    arrow = "=> " + ", ".join(node.out_funcs)
    if node.transition == "foreach":
        arrow += f" (foreach: self.{node.foreach_param})"
    return arrow
