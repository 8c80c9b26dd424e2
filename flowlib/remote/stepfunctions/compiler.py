"""The flow graph as an Amazon States Language definition, built as data.

Every step is one ``Task`` state (``batch:submitJob.sync`` of the step's standalone command,
through ``entry``), followed by what its transition needs:

* linear: ``Next`` (``End`` where a branch or a foreach body reaches its join);
* static split: a ``Parallel`` state, one branch per target, each running up to the join;
* foreach: a DynamoDB ``GetItem`` of the control record the split task wrote (its number of
  splits), then a ``Map`` over the split indices (``MaxConcurrency`` = ``--max-workers``);
  a foreach of zero splits goes straight to the join, like the local runtime;
  with ``--use-distributed-map``, a Distributed ``Map`` reading the indices from an S3 object
  the split task wrote, each iteration a child execution with its own history;
* switch: a ``GetItem`` of the chosen step, then a ``Choice``; the branches merge where the
  graph merges them;
* ``@retry``: a ``Retry`` on ``States.TaskFailed`` (``times`` more attempts, the minutes between
  retries as interval, no backoff): each attempt is a new job, numbered by the metadata store;
* ``@catch``: a ``Catch`` to a fallback ``Task`` that runs the step's catch attempt, after
  which the flow goes on as if the step succeeded; ``@timeout`` is enforced by ``entry``.

State data stays tiny: ``run`` (the run id), ``path`` (the task id: ``1``, then ``-<index>``
per foreach level) and ``rerun`` (steps a resume must re-run). Parameters, inputs and
artifacts go through S3 and DynamoDB, never through the execution input.

``compile_flow`` raises ``CompileError`` naming every step that cannot compile, before
anything is created; ``to_json`` serializes with sorted keys (same flow, same bytes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowlib.decorators import StepDecorator
from flowlib.exceptions import FlowlibError
from flowlib.graph import FlowGraph

MAX_MAP_CONCURRENCY = 1000
FIRST_TASK = "1"


class CompileError(FlowlibError):
    """The flow cannot become a state machine; the message names the step and why."""


@dataclass(frozen=True)
class StepRole:
    """How a step's task finds its inputs (passed to ``entry`` as arguments)."""

    parent_kind: str  # "parameters", "same", "foreach-body" or "foreach-join"
    parents: tuple[str, ...]
    split: str | None = None  # foreach-join: the foreach step whose splits it joins
    control: bool = False  # the task writes a control record (start, foreach, switch)


# task_state(step, role, catch_fallback) -> the Task state's fields (Type, Resource, Parameters)
TaskStateFactory = Callable[[str, StepRole, bool], dict[str, Any]]


def step_roles(graph: FlowGraph) -> dict[str, StepRole]:
    """Each step's parent kind, from the same graph model the local runtime schedules with."""
    join_to_split = {n.matching_join: n.name for n in graph if n.matching_join}
    roles = {}
    for node in graph:
        control = node.name == "start" or node.transition in ("foreach", "switch")
        parents = tuple(node.in_funcs)
        if node.name == "start":
            role = StepRole("parameters", (), control=True)
        elif node.is_join and graph[split].transition == "foreach" if (
                split := join_to_split.get(node.name)) in graph else False:
            role = StepRole("foreach-join", parents, split, control)
        elif len(parents) == 1 and graph[parents[0]].transition == "foreach":
            role = StepRole("foreach-body", parents, None, control)
        else:
            role = StepRole("same", parents, None, control)
        roles[node.name] = role
    return roles


def check_compilable(graph: FlowGraph) -> None:
    """Every reason the graph cannot compile, each naming its step, in one error."""
    problems = []
    for node in graph:
        if node.name not in graph.reachable:
            continue
        if node.transition == "switch" and node.name in _descendants(graph, node.name):
            problems.append(
                f"step '{node.name}' (line {node.lineno}): a recursive switch (a conditional "
                "that leads back to the step) cannot run on Step Functions yet: each visit "
                "would need its own task id. Unroll the loop or run the flow with 'run'.")
        elif node.transition != "switch" and node.name in _descendants(graph, node.name):
            problems.append(f"step '{node.name}' (line {node.lineno}): the graph has a cycle "
                            "through this step.")
    if problems:
        raise CompileError("The flow cannot be compiled to Step Functions:\n  "
                           + "\n  ".join(problems))


def _descendants(graph: FlowGraph, name: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.children(name))
    while todo:
        step = todo.pop()
        if step not in seen:
            seen.add(step)
            todo.extend(graph.children(step))
    return seen


class _Compiler:
    def __init__(self, graph: FlowGraph, decorators: dict[str, dict[str, StepDecorator]],
                 task_state: TaskStateFactory, control_key: Callable[[str], dict[str, Any]],
                 table: str, max_workers: int,
                 items_reader: Callable[[str], dict[str, Any]] | None = None) -> None:
        self.graph = graph
        self.decorators = decorators
        self.task_state = task_state
        self.control_key = control_key
        self.table = table
        self.items_reader = items_reader
        self.max_workers = max(1, min(max_workers, MAX_MAP_CONCURRENCY))
        self.roles = step_roles(graph)
        self.join_to_split = {n.matching_join: n.name for n in graph if n.matching_join}

    def segment(self, first: str, stop: str | None) -> dict[str, Any]:
        """States from ``first`` up to (not including) ``stop``: a branch or a Map body."""
        states: dict[str, Any] = {}
        self._emit(first, stop, states)
        return {"StartAt": first, "States": states}

    def _emit(self, name: str, stop: str | None, states: dict[str, Any]) -> None:
        if name in states:
            return
        node = self.graph[name]
        role = self.roles[name]
        chain: list[tuple[str, dict[str, Any]]] = []  # (state name, state) in order
        task = {**self.task_state(name, role, False), "ResultPath": None}
        retry = self.decorators[name].get("retry")
        if retry is not None and int(retry.times) > 0:
            task["Retry"] = [{
                "ErrorEquals": ["States.TaskFailed"],
                "MaxAttempts": int(retry.times),
                "IntervalSeconds": max(1, int(float(retry.minutes_between_retries) * 60)),
                "BackoffRate": 1.0,
            }]
        chain.append((name, task))
        catch_name = None
        if self.decorators[name].get("catch") is not None:
            catch_name = f"{name}.catch"
            task["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught",
                              "Next": catch_name}]
        if role.control:
            chain.append((f"{name}.control", self._control_read(name)))
        if name == "start":
            chain.append(("start.context", {
                "Type": "Pass",
                "Parameters": {"run.$": "$.control.ctl.run", "path": FIRST_TASK,
                               "rerun.$": "$.control.ctl.rerun", "control.$": "$.control"},
            }))
        tail = self._transition(node, stop, states)
        for (state_name, state), following in zip(chain, [*[c[0] for c in chain[1:]], None],
                                                  strict=True):
            if following is not None:
                state["Next"] = following
            else:
                state.update(tail)
            states[state_name] = state
        if catch_name is not None:
            fallback = {**self.task_state(name, role, True), "ResultPath": None}
            if len(chain) > 1:
                fallback["Next"] = chain[1][0]
            else:
                fallback.update(tail)
            states[catch_name] = fallback
        for target in self._followers(node, stop):
            self._emit(target, stop, states)

    def _followers(self, node: Any, stop: str | None) -> list[str]:
        if node.transition in ("linear", "switch"):
            return [t for t in self.graph.children(node.name) if t != stop]
        if node.transition in ("split", "foreach"):
            join = node.matching_join
            return [join] if join and join != stop else []
        return []

    def _next(self, target: str | None, stop: str | None) -> dict[str, Any]:
        if target is None or target == stop:
            return {"End": True}
        return {"Next": target}

    def _control_read(self, name: str) -> dict[str, Any]:
        return {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName": self.table, "Key": self.control_key(name),
                           "ConsistentRead": True},
            "ResultSelector": {"ctl.$": "States.StringToJson($.Item.ctl.S)"},
            "ResultPath": "$.control",
            "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 5,
                       "IntervalSeconds": 2, "BackoffRate": 2.0}],
        }

    def _transition(self, node: Any, stop: str | None, states: dict[str, Any]) -> dict[str, Any]:
        name = node.name
        if node.transition == "end" or name == "end":
            return {"End": True}
        if node.transition == "linear":
            return self._next(self.graph.children(name)[0], stop)
        if node.transition == "split":
            branches = [self.segment(t, node.matching_join) for t in self.graph.children(name)]
            states[f"{name}.branches"] = {"Type": "Parallel", "Branches": branches,
                                          "ResultPath": None,
                                          **self._next(node.matching_join, stop)}
            return {"Next": f"{name}.branches"}
        if node.transition == "foreach":
            join = node.matching_join
            body = self.graph.children(name)[0]
            if join is None or join == stop:  # lint rejects these; never compile them
                raise CompileError(f"step '{name}': its foreach has no join in its branch.")
            states[f"{name}.empty"] = {
                "Type": "Choice",
                "Choices": [{"Variable": "$.control.ctl.num_splits", "NumericEquals": 0,
                             "Next": join}],
                "Default": f"{name}.foreach",
            }
            states[f"{name}.foreach"] = {
                "Type": "Map",
                "ItemsPath": "$.control.ctl.splits",
                "ItemSelector": {
                    "run.$": "$.run",
                    "rerun.$": "$.rerun",
                    "path.$": "States.Format('{}-{}', $.path, $$.Map.Item.Value)",
                },
                "MaxConcurrency": self.max_workers,
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"},
                                  **self.segment(body, join)},
                "ResultPath": None,
                **self._next(join, stop),
            }
            if self.items_reader is not None:
                # Distributed Map: items read from S3, each iteration a child execution with
                # its own history, so a 10,000-way foreach stays far from the 25,000-event
                # limit of one execution.
                state = states[f"{name}.foreach"]
                del state["ItemsPath"]
                state["ItemReader"] = self.items_reader(name)
                state["ItemProcessor"]["ProcessorConfig"] = {"Mode": "DISTRIBUTED",
                                                             "ExecutionType": "STANDARD"}
            return {"Next": f"{name}.empty"}
        if node.transition == "switch":
            cases = sorted(set((node.switch_cases or {}).values())) or self.graph.children(name)
            choices = []
            for target in cases:
                choice = {"Variable": "$.control.ctl.next", "StringEquals": target}
                if target == stop:
                    raise CompileError(f"step '{name}': a switch case goes straight to a join.")
                choice["Next"] = target
                choices.append(choice)
            states[f"{name}.switch"] = {"Type": "Choice", "Choices": choices}
            return {"Next": f"{name}.switch"}
        raise CompileError(f"step '{name}': transition '{node.transition}' cannot be compiled.")


def compile_flow(graph: FlowGraph, decorators: dict[str, dict[str, StepDecorator]],
                 task_state: TaskStateFactory, control_key: Callable[[str], dict[str, Any]],
                 table: str, max_workers: int = 16, comment: str = "",
                 timeout_seconds: int | None = None,
                 items_reader: Callable[[str], dict[str, Any]] | None = None) -> dict[str, Any]:
    """The state machine definition of ``graph`` (a dict; serialize with ``to_json``)."""
    check_compilable(graph)
    compiler = _Compiler(graph, decorators, task_state, control_key, table, max_workers,
                         items_reader)
    definition = {"Comment": comment, **compiler.segment("start", None)}
    if timeout_seconds:
        definition["TimeoutSeconds"] = int(timeout_seconds)
    return definition


def to_json(definition: dict[str, Any]) -> str:
    return json.dumps(definition, sort_keys=True, indent=2)


_TERMINAL = ("Choice", "Succeed", "Fail")
_TYPES = ("Task", "Pass", "Choice", "Parallel", "Map", "Wait", "Succeed", "Fail")


def lint_definition(definition: dict[str, Any]) -> list[str]:
    """The States Language rules we can check offline; an empty list when all hold.

    Names unique across the whole machine and at most 80 characters; StartAt and every
    Next/Default/Catch target exist in the same scope; every state but Choice/Succeed/Fail
    has exactly one of Next and End; every state is reachable; ``.$`` fields hold a path or
    an intrinsic; Retry counts are whole and non-negative.
    """
    problems: list[str] = []
    seen: set[str] = set()

    def check_payload(where: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key.endswith(".$") and not (isinstance(item, str) and (
                        item.startswith("$") or item.startswith("States."))):
                    problems.append(f"{where}: field {key} must hold a path or an intrinsic")
                check_payload(where, item)
        elif isinstance(value, list):
            for item in value:
                check_payload(where, item)

    def scope(machine: dict[str, Any], label: str) -> None:
        states = machine.get("States") or {}
        start = machine.get("StartAt")
        if start not in states:
            problems.append(f"{label}: StartAt {start!r} is not a state")
        edges: dict[str, list[str]] = {}
        for name, state in states.items():
            where = f"state {name!r}"
            if name in seen:
                problems.append(f"{where}: name used twice")
            seen.add(name)
            if len(name) > 80:
                problems.append(f"{where}: name longer than 80 characters")
            kind = state.get("Type")
            if kind not in _TYPES:
                problems.append(f"{where}: unknown Type {kind!r}")
            targets = []
            if kind in _TERMINAL:
                if "Next" in state or "End" in state:
                    problems.append(f"{where}: a {kind} state takes no Next or End")
            elif ("Next" in state) == bool(state.get("End")):
                problems.append(f"{where}: needs exactly one of Next and End")
            if "Next" in state:
                targets.append(state["Next"])
            if kind == "Choice":
                if not state.get("Choices"):
                    problems.append(f"{where}: a Choice needs Choices")
                targets += [c.get("Next") for c in state.get("Choices", [])]
                if "Default" in state:
                    targets.append(state["Default"])
            targets += [c.get("Next") for c in state.get("Catch", [])]
            for rule in state.get("Retry", []):
                attempts = rule.get("MaxAttempts", 3)
                if not isinstance(attempts, int) or attempts < 0:
                    problems.append(f"{where}: Retry MaxAttempts must be a whole number >= 0")
            if kind == "Task" and not state.get("Resource"):
                problems.append(f"{where}: a Task needs a Resource")
            for target in targets:
                if target not in states:
                    problems.append(f"{where}: goes to {target!r}, which is not in its scope")
            edges[name] = [t for t in targets if t in states]
            for field_name in ("Parameters", "ItemSelector", "ResultSelector"):
                check_payload(where, state.get(field_name))
            for index, branch in enumerate(state.get("Branches", [])):
                scope(branch, f"{where} branch {index}")
            if "ItemProcessor" in state:
                scope(state["ItemProcessor"], f"{where} item processor")
        reached: set[str] = set()
        todo = [start] if start in states else []
        while todo:
            name = todo.pop()
            if name not in reached:
                reached.add(name)
                todo += edges.get(name, [])
        for name in states:
            if name not in reached:
                problems.append(f"{label}: state {name!r} is unreachable")

    scope(definition, "state machine")
    return problems
