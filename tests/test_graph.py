"""Valid flows: what FlowGraph reads from the source, the order and scopes the runtime relies on,
and the text of ``show``."""

from __future__ import annotations

import inspect

import pytest

from flowlib.decorators import retry, timeout
from flowlib.flowspec import FlowSpec, step
from flowlib.graph import FlowGraph, StepNode, render, validate
from flowlib.graph import source as graph_source

THIS_FILE = str(__import__("pathlib").Path(__file__).resolve())


def def_line(func) -> int:
    """Absolute line of the ``def`` (below any decorators)."""
    lines, first = inspect.getsourcelines(func)
    return first + next(i for i, text in enumerate(lines) if text.lstrip().startswith("def "))


def line_of(func, text: str) -> int:
    lines, first = inspect.getsourcelines(func)
    return first + next(i for i, line in enumerate(lines) if text in line)


class LinearFlow(FlowSpec):
    """A straight line.

    Three steps, one after the other.
    """

    @step
    def start(self):
        """Load the data.

        More detail that show leaves out.
        """
        self.x = 1
        self.next(self.middle)

    @retry(times=2)
    @timeout(seconds=5)
    @step
    def middle(self):
        self.x += 1
        self.next(self.end)

    @step
    def end(self):
        """Done."""


class SplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def b(self):
        self.next(self.join)

    @step
    def a(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class NestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.rows = [1, 2]
        self.next(self.outer, foreach="rows")

    @step
    def outer(self):
        self.cols = ["a", "b"]
        self.next(self.inner, foreach="cols")

    @step
    def inner(self):
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class SwitchFlow(FlowSpec):
    @step
    def start(self):
        self.flag = "yes"
        self.next({"yes": self.accept, "no": self.reject}, condition="flag")

    @step
    def accept(self):
        self.next(self.merge)

    @step
    def reject(self):
        self.next(self.merge)

    @step
    def merge(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class SwitchInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.size = "big" if self.input > 1 else "small"
        self.next({"big": self.heavy, "small": self.light}, condition="size")

    @step
    def heavy(self):
        self.next(self.join)

    @step
    def light(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class SwitchToEndFlow(FlowSpec):
    @step
    def start(self):
        self.mode = "skip"
        self.next({"work": self.work, "skip": self.end}, condition="mode")

    @step
    def work(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class BaseFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class ChildFlow(BaseFlow):
    @step
    def middle(self):
        self.next(self.extra)

    @step
    def extra(self):
        self.next(self.end)


class OddIndentFlow(FlowSpec):
    @step
    def start(self):
        """Keep a text whose lines are less indented than the def."""
        self.text = """first line
at column 0, which makes textwrap.dedent of the function a no-op"""
        self.next(self.end)

    @step
    def end(self):
        pass


VALID = [
    LinearFlow,
    SplitFlow,
    NestedForeachFlow,
    SwitchFlow,
    SwitchInForeachFlow,
    SwitchToEndFlow,
    BaseFlow,
    ChildFlow,
    OddIndentFlow,
]


@pytest.mark.parametrize("flow_cls", VALID, ids=lambda c: c.__name__)
def test_valid_flows_pass_validation(flow_cls: type) -> None:
    graph = FlowGraph(flow_cls)
    validate(graph, flow_cls)
    validate(graph)
    nodes = graph.sorted_nodes()
    assert nodes[0].name == "start" and nodes[-1].name == "end"
    position = {n.name: i for i, n in enumerate(nodes)}
    for node in nodes:
        assert all(position[p] < position[node.name] for p in node.in_funcs)
        assert all(position[c] > position[node.name] for c in node.out_funcs)


def test_linear_flow_nodes() -> None:
    graph = FlowGraph(LinearFlow)
    assert graph.name == "LinearFlow"
    assert graph.file == THIS_FILE
    assert [n.name for n in graph] == ["start", "middle", "end"]
    assert len(graph) == 3 and "middle" in graph and "nope" not in graph
    start, middle, end = graph["start"], graph["middle"], graph["end"]
    assert isinstance(start, StepNode)
    assert start.file == THIS_FILE
    assert start.lineno == def_line(LinearFlow.start)
    assert start.next_lineno == line_of(LinearFlow.start, "self.next(")
    assert middle.lineno == def_line(LinearFlow.middle)
    assert (start.transition, middle.transition, end.transition) == ("linear", "linear", "end")
    assert (start.type, middle.type, end.type) == ("start", "linear", "end")
    assert start.out_funcs == ["middle"] and middle.in_funcs == ["start"]
    assert end.out_funcs == [] and end.next_lineno is None
    assert start.doc == "Load the data.\n\nMore detail that show leaves out."
    assert middle.doc is None
    assert [d.name for d in middle.decorators] == ["timeout", "retry"]
    assert not start.is_join and start.num_args == 1
    assert all(n.split_parents == [] and n.matching_join is None for n in graph)


def test_static_split_and_join() -> None:
    graph = FlowGraph(SplitFlow)
    start, join = graph["start"], graph["join"]
    assert start.transition == "split" and start.type == "split"
    assert start.out_funcs == ["a", "b"]  # source order of the self.next arguments
    assert [n.name for n in graph] == ["start", "b", "a", "join", "end"]  # ties by line
    assert join.is_join and join.num_args == 2 and join.type == "join"
    assert join.in_funcs == ["b", "a"]  # graph order
    assert start.matching_join == "join"
    assert graph["a"].split_parents == ["start"] and graph["b"].split_parents == ["start"]
    # As in Metaflow, a join's split_parents ends with the split it closes.
    assert join.split_parents == ["start"]
    assert graph["end"].split_parents == [] and start.split_parents == []


def test_nested_foreach() -> None:
    graph = FlowGraph(NestedForeachFlow)
    assert [n.name for n in graph] == [
        "start",
        "outer",
        "inner",
        "inner_join",
        "outer_join",
        "end",
    ]
    start, outer = graph["start"], graph["outer"]
    assert start.transition == "foreach" and start.foreach_param == "rows"
    assert outer.transition == "foreach" and outer.foreach_param == "cols"
    assert start.type == "foreach"
    assert start.matching_join == "outer_join"
    assert outer.matching_join == "inner_join"
    assert outer.split_parents == ["start"]
    assert graph["inner"].split_parents == ["start", "outer"]
    assert graph["inner_join"].split_parents == ["start", "outer"]
    assert graph["outer_join"].split_parents == ["start"]
    assert graph["end"].split_parents == []


def test_switch() -> None:
    graph = FlowGraph(SwitchFlow)
    start, merge = graph["start"], graph["merge"]
    assert start.transition == "switch" and start.type == "split-switch"
    assert start.condition == "flag"
    assert start.switch_cases == {"yes": "accept", "no": "reject"}
    assert start.out_funcs == ["accept", "reject"]
    assert start.matching_join is None
    assert merge.in_funcs == ["accept", "reject"] and not merge.is_join
    assert all(n.split_parents == [] for n in graph)


def test_switch_inside_foreach_merges_at_the_join() -> None:
    graph = FlowGraph(SwitchInForeachFlow)
    assert graph["start"].matching_join == "join"
    assert graph["body"].split_parents == ["start"]
    assert graph["heavy"].split_parents == ["start"] == graph["light"].split_parents
    assert graph["join"].in_funcs == ["heavy", "light"]


def test_switch_branch_may_go_straight_to_end() -> None:
    graph = FlowGraph(SwitchToEndFlow)
    assert graph["start"].switch_cases == {"work": "work", "skip": "end"}
    assert graph["end"].in_funcs == ["start", "work"]


def test_inherited_steps_and_overrides() -> None:
    graph = FlowGraph(ChildFlow)
    assert [n.name for n in graph] == ["start", "middle", "extra", "end"]
    assert graph.name == "ChildFlow"
    assert graph["start"].lineno == def_line(BaseFlow.start)
    assert graph["middle"].lineno == def_line(ChildFlow.middle)
    assert graph["middle"].out_funcs == ["extra"]
    assert FlowGraph(BaseFlow)["middle"].out_funcs == ["end"]


def test_string_less_indented_than_def() -> None:
    graph = FlowGraph(OddIndentFlow)
    assert graph["start"].out_funcs == ["end"]
    assert graph["start"].next_lineno == line_of(OddIndentFlow.start, "self.next(")


def test_file_is_parsed_once() -> None:
    FlowGraph(LinearFlow)
    code_file = LinearFlow.start.__code__.co_filename
    tree = graph_source._FILES[code_file].tree
    FlowGraph(NestedForeachFlow)
    assert graph_source._FILES[code_file].tree is tree


def test_render_linear() -> None:
    text = render(FlowGraph(LinearFlow))
    assert text == (
        "LinearFlow\n"
        "    A straight line.\n"
        "\n"
        "    Three steps, one after the other.\n"
        "\n"
        "Step start (start)\n"
        "    Load the data.\n"
        "    => middle\n"
        "\n"
        "@timeout\n"
        "@retry\n"
        "Step middle (linear)\n"
        "    (no docstring)\n"
        "    => end\n"
        "\n"
        "Step end (end)\n"
        "    Done.\n"
    )


def test_render_notes_foreach_and_condition() -> None:
    foreach = render(FlowGraph(NestedForeachFlow))
    assert (
        "Step start (foreach)\n    (no docstring)\n    => outer (foreach: self.rows)\n" in foreach
    )
    assert "Step inner_join (join)\n" in foreach
    switch = render(FlowGraph(SwitchFlow))
    assert "Step start (split-switch)" in switch
    assert "=> 'yes': accept, 'no': reject (condition: self.flag)" in switch
    split = render(FlowGraph(SplitFlow))
    assert "Step start (split)\n    (no docstring)\n    => a, b\n" in split
