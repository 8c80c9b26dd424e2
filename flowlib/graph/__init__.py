"""The flow graph: read a flow's steps from source, validate them, and describe them."""

from flowlib.graph.lint import validate
from flowlib.graph.model import FlowGraph, StepNode
from flowlib.graph.render import render

__all__ = ["FlowGraph", "StepNode", "render", "validate"]
