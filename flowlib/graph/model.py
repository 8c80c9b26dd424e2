"""The flow graph: one ``StepNode`` per step, linked by the ``self.next`` calls in the source.

Building a ``FlowGraph`` only reads the source; it never rejects a flow. Problems found while
reading (a malformed ``self.next``, a bad signature) are kept in ``issues`` so that
``flowlib.graph.lint.validate`` can report them together with the structural ones, all at once.
The graph is built on every run, so everything here is linear in the number of steps.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field

from flowlib.exceptions import GraphProblem

# A scope is the stack of splits a step runs inside, outermost first: one (split step, branch)
# pair per enclosing split, where the branch is the split's target the path went through.
Scope = tuple[tuple[str, str], ...]

@dataclass
class StepNode:
    """One step of the flow as written in the source."""

    name: str
    file: str
    lineno: int
    is_join: bool
    num_args: int
    transition: str  # "linear", "split", "foreach", "switch", "end" or "none"
    out_funcs: list[str]
    in_funcs: list[str]
    foreach_param: str | None
    condition: str | None
    switch_cases: dict[str, str] | None
    next_lineno: int | None
    split_parents: list[str]
    matching_join: str | None
    doc: str | None
    decorators: list
    # Every self.<name> written inside any self.next(...) of the step, with the call's line.
    # Lint checks them all (not only the call that made ``out_funcs``), and a step named here is
    # not reported as unreachable: the broken self.next is the problem to fix.
    next_targets: list[tuple[str, int]] = field(default_factory=list, repr=False, compare=False)

    @property
    def recursive(self) -> bool:
        """A recursive switch: one of the step's switch cases goes back to the step itself
        (repeat until a condition holds, Metaflow 2.19). That edge is a loop edge: it is left
        out of ``FlowGraph.children``, the order, the scopes and ``in_funcs``, so the rest of
        the graph is still acyclic; ``FlowGraph.loop_edges`` lists it for compilers."""
        return self.transition == "switch" and self.name in self.out_funcs

    @property
    def parallel_step(self) -> bool:
        """Metaflow's flag for a ``@parallel`` step; flowlib has no ``@parallel``."""
        return False

    @property
    def type(self) -> str:
        """Metaflow's label, so ``show`` output reads like Metaflow's."""
        if self.name == "end":
            return "end"
        if self.transition == "split":
            return "split"
        if self.transition == "foreach":
            return "foreach"
        if self.transition == "switch":
            return "split-switch"
        if self.is_join:
            return "join"
        if self.name == "start":
            return "start"
        return "linear"


@dataclass(frozen=True)
class Issue:
    """A problem seen while reading a step's source, reported later by ``validate``.

    ``kind`` tells lint whether the graph's edges can be trusted despite it: "name" issues do
    not affect the structure; "signature" and "transition" ones do, so split/join balance is
    only checked once they are fixed (otherwise it would report consequences, not causes).
    """

    kind: str
    problem: GraphProblem


class FlowGraph:
    """The steps of a flow class, read from source, with parents, order and split scopes."""

    def __init__(self, flow_cls: type) -> None:
        from flowlib.graph.parse import parse_flow
        from flowlib.graph.source import flow_file

        self.name: str = flow_cls.__name__
        self.flow_cls: type = flow_cls
        self.file: str = flow_file(flow_cls)
        nodes, issues = parse_flow(flow_cls)
        self.nodes: dict[str, StepNode] = nodes
        self.issues: list[Issue] = issues
        # Scope of each reachable step and of each edge leaving one (see ``Scope``).
        self.scopes: dict[str, Scope] = {}
        self.edge_scopes: dict[tuple[str, str], Scope] = {}
        self.reachable: set[str] = set()
        self._order: list[str] = []
        self._link()

    # -- mapping protocol ---------------------------------------------------------------------
    def __getitem__(self, name: str) -> StepNode:
        return self.nodes[name]

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[StepNode]:
        return iter(self.sorted_nodes())

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return f"<FlowGraph {self.name}: {' -> '.join(self._order)}>"

    def sorted_nodes(self) -> list[StepNode]:
        """Topological order, start first, end last, ties broken by source line."""
        return [self.nodes[name] for name in self._order]

    def children(self, name: str) -> list[str]:
        """Targets of ``name`` that are steps (unknown targets are lint's business), without
        the loop edge of a recursive switch (see ``StepNode.recursive``)."""
        node = self.nodes[name]
        return [
            c
            for c in dict.fromkeys(node.out_funcs)
            if c in self.nodes and not (c == name and node.recursive)
        ]

    @property
    def loop_edges(self) -> list[tuple[str, str, list[str]]]:
        """(step, step, switch values that repeat it) for every recursive switch, in order.

        What an orchestrator needs beyond the acyclic graph: the local scheduler enqueues the
        step again; a state machine compiles it to a Choice state whose repeat values go back
        to the step's own Task state. Each repetition is a new task whose input is the
        previous one, in the same foreach position.
        """
        edges = []
        for node in self.sorted_nodes():
            if node.recursive:
                cases = (node.switch_cases or {}).items()
                values = [value for value, target in cases if target == node.name]
                edges.append((node.name, node.name, values))
        return edges

    # -- structure ----------------------------------------------------------------------------
    def _link(self) -> None:
        children = {name: self.children(name) for name in self.nodes}
        self._order = _topological_order(self.nodes, children)
        parents: dict[str, list[str]] = {name: [] for name in self.nodes}
        for name in self._order:
            for child in children[name]:
                parents[child].append(name)
        for name, node in self.nodes.items():
            node.in_funcs = parents[name]
        self.reachable = _reachable("start", children) if "start" in self.nodes else set()
        self._assign_scopes(children)

    def _assign_scopes(self, children: dict[str, list[str]]) -> None:
        """Propagate split scopes from start in topological order.

        A step takes the scope of its first parent; disagreeing parents are what lint reports
        as a wrong join. A join closes the innermost split of its scope, which also sets that
        split's ``matching_join`` (first join in order wins, lint reports the others).
        """
        for name in self._order:
            if name not in self.reachable:
                continue
            node = self.nodes[name]
            scope: Scope = ()
            for parent in node.in_funcs:
                if (parent, name) in self.edge_scopes:
                    scope = self.edge_scopes[(parent, name)]
                    break
            self.scopes[name] = scope
            node.split_parents = [split for split, _ in scope]
            out = scope
            if node.is_join and scope:
                split = self.nodes[scope[-1][0]]
                if split.matching_join is None:
                    split.matching_join = name
                out = scope[:-1]
            opens = node.transition in ("split", "foreach")
            for child in children[name]:
                self.edge_scopes[(name, child)] = out + ((name, child),) if opens else out


def _topological_order(nodes: dict[str, StepNode], children: dict[str, list[str]]) -> list[str]:
    """Kahn's algorithm with a heap on (line, name); steps caught in cycles follow by line."""
    indegree = {name: 0 for name in nodes}
    for kids in children.values():
        for child in kids:
            indegree[child] += 1
    ready = [(node.lineno, name) for name, node in nodes.items() if indegree[name] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for child in children[name]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, (nodes[child].lineno, child))
    if len(order) < len(nodes):
        placed = set(order)
        order += sorted((n for n in nodes if n not in placed), key=lambda n: (nodes[n].lineno, n))
    if "start" in nodes:
        order.remove("start")
        order.insert(0, "start")
    if "end" in nodes:
        order.remove("end")
        order.append("end")
    return order


def _reachable(root: str, children: dict[str, list[str]]) -> set[str]:
    seen = {root}
    todo = [root]
    while todo:
        for child in children[todo.pop()]:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen
