"""Read a flow's steps and their ``self.next`` calls from the source code.

The graph is static, as in Metaflow: transitions are read from the source, never executed, so a
flow can be checked and shown without running it. Finding each step's source (parsed once per
file) is ``source.py``'s job.
"""

from __future__ import annotations

import ast
import inspect

from flowlib.exceptions import GraphProblem
from flowlib.graph.model import Issue, StepNode
from flowlib.graph.source import FunctionAST, function_ast, step_functions

_SWITCH_EXAMPLE = "self.next({'yes': self.a, 'no': self.b}, condition='flag')"



def parse_flow(flow_cls: type) -> tuple[dict[str, StepNode], list[Issue]]:
    """Parse every step; raises FlowGraphError only when a step's source cannot be read."""
    nodes: dict[str, StepNode] = {}
    issues: list[Issue] = []
    for name, func in step_functions(flow_cls).items():
        fn_ast, file, offset = function_ast(flow_cls.__name__, name, func)
        node, step_issues = _StepReader(name, func, fn_ast, file, offset).read()
        nodes[name] = node
        issues += step_issues
    return nodes, issues


class _StepReader:
    """Turns one step's ``def`` into a StepNode plus the problems seen in its source."""

    def __init__(self, name: str, func, fn_ast: FunctionAST, file: str, offset: int) -> None:
        self.name = name
        self.func = func
        self.fn = fn_ast
        self.file = file
        self.offset = offset
        self.issues: list[Issue] = []

    def line(self, item: ast.AST) -> int:
        return item.lineno + self.offset

    def report(self, kind: str, lineno: int, message: str, fix: str) -> None:
        self.issues.append(Issue(kind, GraphProblem(self.name, self.file, lineno, message, fix)))

    def read(self) -> tuple[StepNode, list[Issue]]:
        doc = self.func.__doc__
        node = StepNode(
            name=self.name,
            file=self.file,
            lineno=self.line(self.fn),
            is_join=False,
            num_args=0,
            transition="none",
            out_funcs=[],
            in_funcs=[],
            foreach_param=None,
            condition=None,
            switch_cases=None,
            next_lineno=None,
            split_parents=[],
            matching_join=None,
            doc=inspect.cleandoc(doc) if doc else None,
            decorators=list(getattr(self.func, "decorators", [])),
        )
        self._read_signature(node)
        self._read_transition(node)
        return node, self.issues

    # -- signature ----------------------------------------------------------------------------
    def _read_signature(self, node: StepNode) -> None:
        args = self.fn.args
        positional = [a.arg for a in args.posonlyargs + args.args]
        node.num_args = len(positional)
        node.is_join = node.num_args == 2
        where = node.lineno
        signature = f"def {self.name}(self)"
        join_signature = f"def {self.name}(self, inputs)"
        if isinstance(self.fn, ast.AsyncFunctionDef):
            self.report(
                "signature",
                where,
                "is an 'async def'; steps are called as plain functions, so its body would "
                "never run.",
                f"Write it as a plain function: {signature}.",
            )
        extras = []
        if args.vararg:
            extras.append(f"*{args.vararg.arg}")
        if args.kwonlyargs:
            extras.append("keyword-only " + ", ".join(a.arg for a in args.kwonlyargs))
        if args.kwarg:
            extras.append(f"**{args.kwarg.arg}")
        if extras:
            self.report(
                "signature",
                where,
                f"has parameters the runtime never passes ({'; '.join(extras)}); a step takes "
                "self, and a join step takes self and inputs.",
                f"Use {signature} or, for a join, {join_signature}.",
            )
        if node.num_args == 0:
            self.report(
                "signature",
                where,
                "takes no parameters, but a step is a method and needs 'self'.",
                f"Write {signature}.",
            )
        elif node.num_args > 2:
            self.report(
                "signature",
                where,
                f"takes {node.num_args} positional parameters ({', '.join(positional)}); a step "
                "takes only self, and a join step takes self and inputs.",
                f"Use {signature} or, for a join, {join_signature}; pass values between steps "
                "as artifacts (self.x = ...).",
            )

    # -- self.next ----------------------------------------------------------------------------
    def _next_calls(self) -> list[ast.Call]:
        calls = [
            item
            for item in ast.walk(self.fn)
            if isinstance(item, ast.Call)
            and isinstance(item.func, ast.Attribute)
            and item.func.attr == "next"
            and isinstance(item.func.value, ast.Name)
            and item.func.value.id == "self"
        ]
        return sorted(calls, key=lambda c: (c.lineno, c.col_offset))

    def _read_transition(self, node: StepNode) -> None:
        calls = self._next_calls()
        tail = self.fn.body[-1] if self.fn.body else None
        tail_call = tail.value if isinstance(tail, ast.Expr) and tail.value in calls else None
        for call in calls:
            for target in _step_refs(call):
                node.next_targets.append((target, self.line(call)))
        if self.name == "end":
            node.transition = "end"
            if calls:
                node.next_lineno = self.line(calls[0])
                self.report(
                    "transition",
                    node.next_lineno,
                    "the end step calls self.next(), but end is the last step of every flow.",
                    "Remove the self.next(...) call from end; to continue after this point, "
                    "rename this step and add a new end step after it.",
                )
            return
        if not calls:
            self.report(
                "transition",
                node.lineno,
                "never calls self.next(), so the flow cannot go on after it (only the step "
                "named end may stop).",
                "End the step with self.next(self.<next_step>); e.g. self.next(self.end).",
            )
            return
        call = tail_call if tail_call is not None else calls[0]
        node.next_lineno = self.line(call)
        if len(calls) > 1:
            lines = ", ".join(str(self.line(c)) for c in calls)
            self.report(
                "transition",
                self.line(calls[1]),
                f"calls self.next() {len(calls)} times (lines {lines}); a step must call it "
                "exactly once, as its last statement.",
                "Keep a single self.next(...) at the end of the step; to pick the next step "
                f"at run time, use a switch: {_SWITCH_EXAMPLE}.",
            )
        elif tail_call is None:
            self.report(
                "transition",
                node.next_lineno,
                "self.next() is not the last statement of the step (it is inside a block such "
                "as if/for/with/try, or code follows it).",
                "Make self.next(...) the last line of the step, outside any block; to pick the "
                f"next step at run time, use a switch: {_SWITCH_EXAMPLE}.",
            )
        self._read_call(node, call)

    def _read_call(self, node: StepNode, call: ast.Call) -> None:
        where = self.line(call)
        keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
        if any(k.arg is None for k in call.keywords):
            self.report(
                "transition",
                where,
                "self.next() is given **kwargs; its form must be visible in the source.",
                "Write foreach='<artifact>' or condition='<artifact>' literally.",
            )
        for key in keywords:
            if key not in ("foreach", "condition"):
                self.report(
                    "transition",
                    where,
                    f"self.next() got an unknown keyword argument '{key}'.",
                    "The only keywords are foreach='<artifact>' (one branch per item) and "
                    f"condition='<artifact>' (a switch: {_SWITCH_EXAMPLE}).",
                )
        if "foreach" in keywords and "condition" in keywords:
            self.report(
                "transition",
                where,
                "self.next() got both foreach= and condition=; a transition is one or the other.",
                "Split it into two steps: one that does the foreach, one that does the switch.",
            )
        has_dict = any(isinstance(a, ast.Dict) for a in call.args)
        if "condition" in keywords or has_dict:
            self._read_switch(node, call, keywords.get("condition"))
        elif "foreach" in keywords:
            self._read_foreach(node, call, keywords["foreach"])
        else:
            self._read_static(node, call)

    def _targets(self, call: ast.Call, args: list[ast.expr]) -> list[str]:
        """Names of self.<step> arguments; reports every argument of another form."""
        names = []
        for arg in args:
            target = _step_ref(arg)
            if target is None:
                self.report(
                    "transition",
                    self.line(arg),
                    f"self.next() got {_show(arg)}, which is not a step reference; targets must "
                    "be written as self.<step_name> so the graph can be read from the source.",
                    "Write the step as an attribute of self, e.g. self.next(self.train), not a "
                    "string, variable, call or expression.",
                )
            else:
                names.append(target)
        return names

    def _literal_name(self, value: ast.expr, keyword: str, example: str) -> str | None:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            if value.value.isidentifier():
                return value.value
            problem = f"{keyword}={value.value!r} is not an attribute name"
        else:
            problem = f"{keyword}= must be a string literal, got {_show(value)}"
        self.report(
            "transition",
            self.line(value),
            f"{problem}; it names the artifact (self.<name>) read at run time.",
            f"Write {keyword}='<name>' literally, e.g. {example}.",
        )
        return None

    def _read_static(self, node: StepNode, call: ast.Call) -> None:
        if not call.args:
            self.report(
                "transition",
                self.line(call),
                "self.next() is called without a target step.",
                "Name the next step: self.next(self.<step_name>), e.g. self.next(self.end).",
            )
        targets = self._targets(call, call.args)
        duplicates = sorted({t for t in targets if targets.count(t) > 1})
        if duplicates:
            self.report(
                "transition",
                self.line(call),
                f"self.next() names {', '.join(duplicates)} more than once; each branch of a "
                "split must be a different step.",
                "Remove the repeated target; to run one step several times in parallel, use "
                "foreach='<list artifact>'.",
            )
        node.out_funcs = list(dict.fromkeys(targets))
        node.transition = "split" if len(call.args) > 1 else "linear"

    def _read_foreach(self, node: StepNode, call: ast.Call, value: ast.expr) -> None:
        node.transition = "foreach"
        node.foreach_param = self._literal_name(
            value, "foreach", "self.next(self.process, foreach='items')"
        )
        targets = self._targets(call, call.args)
        if len(call.args) != 1:
            self.report(
                "transition",
                self.line(call),
                f"a foreach transition must have exactly one target step, got {len(call.args)}"
                f"{' (' + ', '.join(targets) + ')' if targets else ''}.",
                "Write self.next(self.<step>, foreach='items'); to run several steps per item, "
                "chain them after that step, or split inside it.",
            )
        node.out_funcs = list(dict.fromkeys(targets))

    def _read_switch(self, node: StepNode, call: ast.Call, condition: ast.expr | None) -> None:
        node.transition = "switch"
        where = self.line(call)
        if condition is None:
            self.report(
                "transition",
                where,
                "self.next() got a dict of cases but no condition=, so nothing selects the case.",
                "Add condition='<artifact>' naming the attribute whose value picks the case: "
                f"{_SWITCH_EXAMPLE}.",
            )
        else:
            node.condition = self._literal_name(condition, "condition", _SWITCH_EXAMPLE)
        dicts = [a for a in call.args if isinstance(a, ast.Dict)]
        if len(call.args) != 1 or not dicts:
            got = ", ".join(_show(a) for a in call.args) or "nothing"
            self.report(
                "transition",
                where,
                f"a switch (condition=) takes one dict of cases as its only positional "
                f"argument, got {got}.",
                f"Map each value of the condition to a step: {_SWITCH_EXAMPLE}.",
            )
            self._targets(call, [a for a in call.args if not isinstance(a, ast.Dict)])
        if not dicts:
            return
        cases: dict[str, str] = {}
        for key, value in zip(dicts[0].keys, dicts[0].values, strict=True):
            targets = self._targets(call, [value])
            if key is None or not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                shown = "**" + _show(value) if key is None else _show(key)
                self.report(
                    "transition",
                    self.line(key if key is not None else value),
                    f"switch case key {shown} is not a string literal; the cases must be "
                    "readable from the source.",
                    "Use string literals as keys, e.g. {'yes': self.a, 'no': self.b}; the "
                    "condition's value is compared to them as a string.",
                )
                continue
            if key.value in cases:
                self.report(
                    "transition",
                    self.line(key),
                    f"switch case {key.value!r} appears more than once.",
                    "Give each case once; several values may map to the same step.",
                )
            if targets:
                cases[key.value] = targets[0]
        node.switch_cases = cases
        node.out_funcs = list(dict.fromkeys(cases.values()))
        if len(node.out_funcs) < 2 and len(cases) == len(dicts[0].keys):
            self.report(
                "transition",
                where,
                f"a switch needs at least two different target steps, got {len(node.out_funcs)}.",
                "Add another case, or use a plain transition self.next(self.<step>).",
            )


def _step_ref(item: ast.expr) -> str | None:
    if (
        isinstance(item, ast.Attribute)
        and isinstance(item.value, ast.Name)
        and item.value.id == "self"
    ):
        return item.attr
    return None


def _step_refs(call: ast.Call) -> list[str]:
    refs = []
    for arg in call.args:
        values = arg.values if isinstance(arg, ast.Dict) else [arg]
        refs += [r for r in map(_step_ref, values) if r is not None]
    return refs


def _show(item: ast.AST) -> str:
    text = ast.unparse(item)
    return f"`{text if len(text) <= 40 else text[:37] + '...'}`"
