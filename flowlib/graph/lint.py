"""Validate a flow graph and report every problem at once, each with where and how to fix it.

The checks follow Metaflow's ``metaflow/lint.py`` (and its runtime's assumptions) but collect
all problems instead of stopping at the first. Checks that reason about splits and joins only
run when every step's ``self.next`` and signature are well formed and the graph has no loop:
on a broken graph they would report consequences (a join "missing" a branch that merely ends
in a typo) rather than causes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flowlib import names
from flowlib.exceptions import FlowGraphError, GraphProblem
from flowlib.graph.model import FlowGraph, StepNode
from flowlib.graph.source import api_bases, class_lineno

# Names the runtime or CLI uses on a flow object, beyond what FlowSpec itself defines (Metaflow
# reserves name, next, input, index and cmd).
EXTRA_RESERVED = frozenset({"cmd", "run", "resume", "input", "index", "next", "name"})


def reserved_names(flow_cls: type) -> frozenset[str]:
    """Attribute names a step may not take: the flow API's names plus words the CLI uses.

    The API is read from the flow class itself (the bases that declare ``API_BASE_MARKER``,
    i.e. ``FlowSpec``), so the graph layer never imports the flowspec module above it.
    """
    public: set[str] = set()
    for klass in api_bases(flow_cls):
        public |= {n for n in dir(klass) if not n.startswith("_")}
        public |= set(getattr(klass, "_RESERVED", ()))
    return frozenset(public | EXTRA_RESERVED)


def validate(graph: FlowGraph, flow_cls: type | None = None) -> None:
    """Raise FlowGraphError listing every problem of the flow, or return if it is valid."""
    problems = _Linter(graph, flow_cls or graph.flow_cls).run()
    if problems:
        raise FlowGraphError(problems)


def _names(items: Iterable[str]) -> str:
    return ", ".join(f"'{n}'" for n in items)


def _shorter(name: str, limit: int) -> str:
    """``name`` cut to ``limit`` characters (without a trailing underscore)."""
    return name[:limit].rstrip("_") or name[:1]


class _Linter:
    def __init__(self, graph: FlowGraph, flow_cls: type) -> None:
        self.graph = graph
        self.flow_cls = flow_cls
        self.problems: list[GraphProblem] = []
        # edges_ok: every self.next was read and leads to known steps without a loop; only then
        # does "unreachable" mean what it says. structure_ok adds signatures and start/end,
        # which split/join balance also relies on.
        self.edges_ok = True
        self.structure_ok = True

    def run(self) -> list[GraphProblem]:
        for issue in self.graph.issues:
            self.problems.append(issue.problem)
            if issue.kind == "transition":
                self.edges_ok = False
            if issue.kind != "name":
                self.structure_ok = False
        self.check_start_end()
        self.check_names()
        self.check_parameters()
        self.check_roles()
        self.check_targets()
        self.check_cycles()
        if self.edges_ok:
            self.check_reachability()
        self.check_switch_into_join()
        if self.edges_ok and self.structure_ok:
            _Balance(self).run()
        own = self.graph.file
        return sorted(self.problems, key=lambda p: (p.file != own, p.file, p.lineno))

    def add(self, node: StepNode | None, message: str, fix: str, lineno: int | None = None) -> None:
        if node is None:
            where = (self.graph.file, lineno or class_lineno(self.flow_cls, self.graph.file))
            self.problems.append(GraphProblem(None, *where, message, fix))
        else:
            self.problems.append(
                GraphProblem(node.name, node.file, lineno or node.lineno, message, fix)
            )

    # -- start and end ------------------------------------------------------------------------
    def check_start_end(self) -> None:
        graph = self.graph
        flow = graph.name
        if "start" not in graph:
            self.structure_ok = False
            self.add(
                None,
                f"{flow} has no start step; every flow begins at the step named start.",
                "Add a first step: @step def start(self): ... self.next(self.<step>).",
            )
        else:
            start = graph["start"]
            if start.num_args > 1:
                self.add(
                    start,
                    "the start step takes 'inputs', but nothing runs before start, so there is "
                    "nothing to join.",
                    "Write def start(self):.",
                )
            if start.in_funcs:
                self.add(
                    start,
                    f"the start step is the target of self.next() in {_names(start.in_funcs)}; "
                    "start must be the first step only.",
                    "Point those self.next() calls at another step; to repeat work over data "
                    "use foreach=.",
                )
        if "end" not in graph:
            self.structure_ok = False
            self.add(
                None,
                f"{flow} has no end step; every flow finishes at the step named end.",
                "Add a last step: @step def end(self): ... (with no self.next()), and point the "
                "last step's self.next() at it.",
            )
        elif graph["end"].num_args > 1:
            self.structure_ok = False
            self.add(
                graph["end"],
                "the end step takes 'inputs', but end cannot be a join.",
                "Add a join step before it: @step def join(self, inputs): ... "
                "self.next(self.end), and write def end(self):.",
            )

    # -- names --------------------------------------------------------------------------------
    def check_names(self) -> None:
        flow_problem = names.flow_name_problem(self.graph.name)
        if flow_problem:
            ascii_name = re.sub(r"[^A-Za-z0-9_]", "_", self.graph.name)
            self.add(
                None,
                f"{flow_problem}.",
                f"Rename the class, e.g. to '{_shorter(ascii_name, names.MAX_FLOW_NAME)}'.",
            )
        reserved = reserved_names(self.flow_cls)
        for node in self.graph.nodes.values():
            problem = names.step_name_problem(node.name)
            if problem:
                suggestion = re.sub(r"[^a-z0-9_]", "_", node.name.lower()).strip("_") or "step"
                self.add(
                    node,
                    f"{problem}.",
                    f"Rename it, e.g. to '{_shorter(suggestion, names.MAX_STEP_NAME)}', and "
                    "update the self.next() calls that point at it.",
                )
            if node.name in reserved:
                self.add(
                    node,
                    f"the name '{node.name}' is reserved: it is part of the FlowSpec API "
                    "that steps and the runtime use.",
                    f"Rename the step (e.g. '{node.name}_step') and update the self.next() "
                    "calls that point at it.",
                )

    def check_parameters(self) -> None:
        # Parameters are found by duck typing so this module never imports flowlib.parameters.
        params: dict[str, str] = {}
        for klass in reversed(self.flow_cls.__mro__):
            for attr, value in vars(klass).items():
                if getattr(value, "_flowlib_parameter", False):
                    cli_name = getattr(value, "name", None)
                    shown = f"Parameter '{attr}' of {klass.__name__}"
                    if isinstance(cli_name, str) and cli_name != attr:
                        shown += f" (--{cli_name})"
                        params[cli_name.replace("-", "_")] = shown
                    params[attr] = shown
                    for param_name in dict.fromkeys((attr, cli_name)):
                        problem = (
                            names.parameter_name_problem(param_name)
                            if isinstance(param_name, str) else None
                        )
                        if problem:
                            self.add(
                                None,
                                f"{shown}: {problem}.",
                                "Rename the parameter (its attribute and its name=).",
                            )
        for node in self.graph.nodes.values():
            if node.name in params:
                self.add(
                    node,
                    f"has the same name as {params[node.name]}; parameters are artifacts of "
                    "the run and steps are attributes of the flow, so one would hide the other.",
                    f"Rename the step (e.g. '{node.name}_step') or the parameter.",
                )

    # -- each step's role ---------------------------------------------------------------------
    def check_roles(self) -> None:
        for node in self.graph.nodes.values():
            if node.is_join and node.transition in ("split", "foreach", "switch"):
                self.edges_ok = False
                kind = {"split": "a split", "foreach": "a foreach", "switch": "a switch"}
                self.add(
                    node,
                    f"is both a join (it takes inputs) and {kind[node.transition]} (its "
                    "self.next() starts new branches); a step can do only one of the two.",
                    f"Add a step after the join: end '{node.name}' with self.next(self.<new>) "
                    "and move this self.next(...) into the new step.",
                    node.next_lineno,
                )

    def check_targets(self) -> None:
        graph = self.graph
        steps = list(graph.nodes)
        for node in graph.nodes.values():
            if node.name == "end":
                continue
            for target, line in dict.fromkeys(node.next_targets):
                if target in graph:
                    continue
                self.edges_ok = False
                attr = getattr(self.flow_cls, target, None)
                if callable(attr) and not getattr(attr, "is_step", False):
                    self.add(
                        node,
                        f"self.next() goes to self.{target}, which is a method of "
                        f"{graph.name} but not a step.",
                        f"Add @step above 'def {target}(self)', or go to an existing step.",
                        line,
                    )
                    continue
                import difflib  # only on this error path: it is slow to import

                close = difflib.get_close_matches(target, steps, n=1)
                hint = (
                    f"did you mean self.{close[0]}?"
                    if close
                    else (f"the steps are {_names(steps)}")
                )
                self.add(
                    node,
                    f"self.next() goes to self.{target}, but {graph.name} has no step named "
                    f"'{target}'.",
                    f"Use an existing step ({hint}) or define @step def {target}(self).",
                    line,
                )

    # -- reachability and loops ---------------------------------------------------------------
    def check_reachability(self) -> None:
        graph = self.graph
        if "start" not in graph:
            return
        named = {t for node in graph.nodes.values() for t, _ in node.next_targets}
        for node in graph.sorted_nodes():
            if node.name in graph.reachable or node.name in named:
                continue
            self.add(
                node,
                "is never reached: no step calls self.next() with it, so it would never run.",
                f"Add self.{node.name} to the self.next() of the step that should precede it, "
                "or delete the step.",
            )

    def check_cycles(self) -> None:
        graph = self.graph
        color = dict.fromkeys(graph.nodes, 0)  # 0 new, 1 on the current path, 2 done
        reported: set[frozenset[str]] = set()
        for root in graph.nodes:
            if color[root]:
                continue
            path: list[str] = [root]
            stack = [iter(graph.children(root))]
            color[root] = 1
            while stack:
                child = next(stack[-1], None)
                if child is None:
                    color[path.pop()] = 2
                    stack.pop()
                    continue
                if color[child] == 1:
                    loop = path[path.index(child) :] + [child]
                    if frozenset(loop) not in reported:
                        reported.add(frozenset(loop))
                        self._report_cycle(loop)
                elif color[child] == 0:
                    color[child] = 1
                    path.append(child)
                    stack.append(iter(graph.children(child)))

    def _report_cycle(self, loop: list[str]) -> None:
        self.edges_ok = False
        closer = self.graph[loop[-2]]
        self.add(
            closer,
            f"the flow has a loop: {' -> '.join(loop)}; a flow is a graph without cycles.",
            f"Change self.next() in '{closer.name}' to go forward to a later step; to repeat "
            "work over items use foreach=, to choose a path use a switch (condition=).",
            closer.next_lineno,
        )

    def check_switch_into_join(self) -> None:
        for node in self.graph.nodes.values():
            if not node.is_join or node.name == "end":
                continue
            # A recursive switch whose only way forward is this join always arrives from it.
            switches = [
                p
                for p in node.in_funcs
                if self.graph[p].transition == "switch"
                and not (self.graph[p].recursive and self.graph.children(p) == [node.name])
            ]
            if switches:
                self.add(
                    node,
                    f"is a join, but the switch in {_names(switches)} goes straight to it; a "
                    "switch takes one path, so a join cannot tell which inputs to wait for.",
                    "Add an ordinary step on that switch branch and let it go to the join "
                    "(Metaflow has the same rule).",
                )


class _Balance:
    """Split/join pairing, read off the scopes FlowGraph computed (see ``model.Scope``)."""

    def __init__(self, linter: _Linter) -> None:
        self.linter = linter
        self.graph = linter.graph
        self.add = linter.add
        # (split, branch) pairs already explained, so the end check does not repeat them.
        self.explained: set[tuple[str, str]] = set()
        self.claimed_splits: set[str] = set()

    def parent_scopes(self, name: str) -> list[tuple[str, tuple]]:
        graph = self.graph
        return [
            (p, graph.edge_scopes[(p, name)])
            for p in graph[name].in_funcs
            if (p, name) in graph.edge_scopes
        ]

    def run(self) -> None:
        graph = self.graph
        for node in graph.sorted_nodes():
            if node.name not in graph.reachable:
                continue
            if node.transition in ("split", "foreach"):
                self.check_empty_branches(node)
            if node.name == "end":
                continue
            if node.is_join:
                self.check_join(node)
            elif len(node.in_funcs) > 1:
                self.check_merge(node)
        self.check_end()

    def check_empty_branches(self, node: StepNode) -> None:
        joins = [c for c in node.out_funcs if c in self.graph and self.graph[c].is_join]
        if joins:
            kind = "foreach" if node.transition == "foreach" else "split"
            self.add(
                node,
                f"this {kind} goes straight to the join {_names(joins)}, so that branch does "
                "no work (Metaflow rejects this too).",
                f"Put at least one step between '{node.name}' and the join on every branch.",
                node.next_lineno,
            )

    def _describe(self, parent: str, scope: tuple) -> str:
        if not scope:
            return f"'{parent}' (in no split)"
        split, branch = scope[-1]
        return f"'{parent}' (branch '{branch}' of split '{split}')"

    def check_join(self, node: StepNode) -> None:
        scopes = self.parent_scopes(node.name)
        if not scopes:
            return
        if all(not s for _, s in scopes):
            self.add(
                node,
                f"takes 'inputs', so it is a join, but it joins nothing: its parent(s) "
                f"{_names(p for p, _ in scopes)} are not branches of a split or foreach.",
                f"Write def {node.name}(self): (no inputs), or make an earlier step split with "
                "self.next(self.a, self.b) or foreach='items'.",
            )
            return
        outer = {s[:-1] for _, s in scopes}
        splits = {s[-1][0] if s else None for _, s in scopes}
        if len(outer) > 1 or len(splits) > 1:
            described = "; ".join(self._describe(p, s) for p, s in scopes)
            self.claimed_splits.update(split for split in splits if split)
            self.add(
                node,
                f"joins branches that do not belong to the same split: {described}.",
                "Give each split its own join: nested splits are joined innermost first, and "
                "every branch of a split must reach that split's join.",
            )
            return
        (split,) = splits
        expected = self.graph[split].out_funcs
        reached = {s[-1][1] for _, s in scopes}
        covered = [b for b in expected if b in reached]
        missing = [b for b in expected if b not in reached]
        if missing:
            where = self._destinations(split, missing)
            self.add(
                node,
                f"joins only part of split '{split}': branch(es) {_names(covered)} reach it "
                f"but {_names(missing)} go{'es' if len(missing) == 1 else ''} to {where}.",
                f"Route every branch of '{split}' to '{node.name}' (its self.next() must "
                "lead here), or join the other branches separately before this join.",
            )
            self.explained.update((split, b) for b in missing)

    def _destinations(self, split: str, branches: list[str]) -> str:
        """Where the given branches of ``split`` leave it: another join, or end."""
        found = []
        for (_parent, child), scope in self.graph.edge_scopes.items():
            pair_in = [pair for pair in scope if pair[0] == split]
            if not pair_in or pair_in[0][1] not in branches:
                continue
            target = self.graph[child]
            closes_here = target.is_join and scope[-1][0] == split
            if closes_here or child == "end":
                found.append(child)
        found = list(dict.fromkeys(found))
        return _names(found) if found else "a step that never reaches it"

    def check_merge(self, node: StepNode) -> None:
        scopes = self.parent_scopes(node.name)
        if len({s for _, s in scopes}) < 2:
            return  # alternatives of a switch merging: fine
        self.claimed_splits.update(s[-1][0] for _, s in scopes if s)
        innermost = {s[-1][0] if s else None for _, s in scopes}
        if len(innermost) == 1 and None not in innermost and len({s[:-1] for _, s in scopes}) == 1:
            (split,) = innermost
            branches = dict.fromkeys(s[-1][1] for _, s in scopes)
            described = f"branches {_names(branches)} of split '{split}'"
        else:
            described = "; ".join(self._describe(p, s) for p, s in scopes)
        self.add(
            node,
            f"is reached from branches that run in parallel ({described}) but does not take "
            "'inputs', so it would run once per branch.",
            f"Make it a join: def {node.name}(self, inputs): (use self.merge_artifacts(inputs) "
            "to keep values), or send each branch to a join first.",
        )

    def check_end(self) -> None:
        graph = self.graph
        if "end" not in graph or "end" not in graph.reachable:
            return
        reported: set[str] = set()
        for parent, scope in self.parent_scopes("end"):
            for split, branch in scope:
                if (split, branch) in self.explained or split in self.claimed_splits:
                    continue
                split_node = graph[split]
                join = split_node.matching_join
                if join is None:
                    if split in reported:
                        continue
                    reported.add(split)
                    kind = split_node.transition
                    self.add(
                        split_node,
                        f"this {kind} is never joined: its branches reach end without a join "
                        "step, so end would run once per branch.",
                        "Add a join before end: @step def join(self, inputs): ... "
                        "self.next(self.end), and send every branch there.",
                        split_node.next_lineno,
                    )
                else:
                    key = f"{split}:{parent}"
                    if key in reported:
                        continue
                    reported.add(key)
                    self.add(
                        graph[parent],
                        f"is inside branch '{branch}' of split '{split}' but goes to end, "
                        f"skipping that split's join '{join}'.",
                        f"Send it to '{join}' (or to a step that leads there) instead of end.",
                        graph[parent].next_lineno,
                    )
