"""The flow graph as an Amazon States Language definition, built as data.

Every step is one ``Task`` state (``batch:submitJob.sync`` of the step's standalone command,
through ``entry``), followed by what its transition needs:

* linear: ``Next`` (``End`` where a branch or a foreach body reaches its join);
* static split: a ``Parallel`` state, one branch per target, each running up to the join;
* foreach: a DynamoDB ``GetItem`` of the control record the split task wrote (its number of
  splits), then a ``Map`` over the split indices (``MaxConcurrency`` = ``--max-workers``);
  a foreach of zero splits goes straight to the join, like the local runtime. Inline or
  Distributed is decided here, per foreach, by ``plan_maps`` (see its docstring): a foreach
  whose iterations could push its execution's history past ``EVENT_BUDGET`` events, at the
  widths ``--max-num-splits`` allows, becomes a Distributed ``Map`` that reads the indices
  from an S3 object the split task wrote, each iteration a child execution with its own
  history; ``--use-distributed-map`` makes every foreach Distributed;
* switch: a ``GetItem`` of the chosen step, then a ``Choice``; the branches merge where the
  graph merges them; a case that goes to the join of the enclosing branch or foreach ends it
  (``Succeed``);
* recursive switch (a step that repeats itself): the ``Choice`` goes back to the step's own
  ``Task``. Each visit is its own task, like locally: ``entry`` reads the step's control
  record (keyed by the foreach position, rewritten by every visit) to number the visit and
  its task id (``1``, then ``1.1``, ``1.2``...; ``1-3``, ``1-3.1`` in a foreach), takes the
  previous visit as its input, and stops the loop at ``--max-loop-iterations`` with the local
  runtime's message (a ``Fail`` state ``<step>.loop_limit``, error ``LoopLimit``);
* ``@retry``: a ``Retry`` on ``States.TaskFailed`` (``times`` more attempts, the minutes between
  retries as interval, no backoff): each attempt is a new job, numbered by the metadata store;
* ``@catch``: a ``Catch`` to a fallback ``Task`` that runs the step's catch attempt, after
  which the flow goes on as if the step succeeded; ``@timeout`` is enforced by ``entry``.

State data stays tiny: ``run`` (the run id), ``execution`` (the run's execution, passed into
a Distributed Map's child executions, which have names of their own: control records and
items are keyed by it), ``path`` (the foreach position: ``1``, then
``-<index>`` per foreach level; the task id but for a loop's repetitions) and ``rerun`` (steps
a resume must re-run); every iteration of a ``Map`` ends with an empty output. Parameters,
inputs and artifacts go through S3 and DynamoDB, never through the execution input.

``compile_flow`` raises ``CompileError`` naming every step that cannot compile, before
anything is created; ``to_json`` serializes with sorted keys (same flow, same bytes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from flowlib.decorators import StepDecorator
from flowlib.exceptions import FlowlibError
from flowlib.graph import FlowGraph
from flowlib.remote.stepfunctions.compiler_lint import lint_definition
from flowlib.runtime.errors import loop_limit_message

__all__ = ["CompileError", "StepRole", "check_compilable", "compile_flow", "lint_definition",
           "plan_maps", "step_roles", "to_json", "worst_case_events"]

MAX_MAP_CONCURRENCY = 1000
FIRST_TASK = "1"
DEFAULT_MAX_LOOP_ITERATIONS = 1000  # as ``run --max-loop-iterations``
# AWS ends an execution whose history reaches 25,000 events. ``plan_maps`` keeps the worst case
# it estimates for each execution below this, leaving a fifth spare: the estimate is built from
# moto's histories, and AWS may record a few events more per state.
HISTORY_LIMIT = 25_000
EVENT_BUDGET = 20_000
# Events one execution records, as measured on moto (bench/remote/stepfunctions_foreach.py):
# a Batch ``.sync`` Task (entered, scheduled, started, submitted, succeeded, exited), the
# DynamoDB read of a control record, a Choice or Pass, a Map state, a Map iteration, a
# Distributed Map's run in its parent (the iterations are in the child executions).
TASK_EVENTS = 6
CONTROL_EVENTS = 6
CHOICE_EVENTS = 2
MAP_STATE_EVENTS = 4
MAP_ITERATION_EVENTS = 2
DISTRIBUTED_MAP_EVENTS = 8
# A failed attempt that ``Retry`` repeats (scheduled, started, submitted, failed), and the
# fallback Task of @catch: the worst case counts every attempt failing and then the fallback.
RETRY_EVENTS = 4
CATCH_EVENTS = TASK_EVENTS


class CompileError(FlowlibError):
    """The flow cannot become a state machine; the message names the step and why."""


@dataclass(frozen=True)
class StepRole:
    """How a step's task finds its inputs (passed to ``entry`` as arguments)."""

    parent_kind: str  # "parameters", "same", "foreach-body" or "foreach-join"
    parents: tuple[str, ...]
    split: str | None = None  # foreach-join: the foreach step whose splits it joins
    control: bool = False  # the task writes a control record (start, foreach, switch)
    loop: bool = False  # a recursive switch: each visit is a new task, bounded
    loop_parents: tuple[str, ...] = ()  # parents that loop: their last visit is the input
    items_to_s3: bool = False  # a foreach run as a Distributed Map: indices go to S3


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
        loop_parents = tuple(p for p in parents if graph[p].recursive)
        roles[node.name] = replace(role, loop=node.recursive, loop_parents=loop_parents)
    return roles


def check_compilable(graph: FlowGraph) -> None:
    """Every reason the graph cannot compile, each naming its step, in one error."""
    problems = []
    for node in graph:
        if node.name not in graph.reachable:
            continue
        if node.name == "start" and node.recursive:
            problems.append(
                f"step 'start' (line {node.lineno}): its switch repeats it, which Step "
                "Functions cannot do (the start task allocates the run); move the loop to a "
                "step after start.")
        elif node.name in _descendants(graph, node.name):
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


class _MapPlanner:
    """Which foreach steps become Distributed Maps: the fewest, outermost first, such that no
    execution's history can exceed ``EVENT_BUDGET`` events.

    The width of a foreach is only known at run time, but it is bounded: ``--max-num-splits``
    (the entry refuses a wider one, as ``run`` does), and a loop by ``--max-loop-iterations``.
    So the worst case of each execution is known at compile time: every step's events, a loop
    step's times its bound, a foreach's iterations times the most splits, nested foreach
    multiplied through, every @retry attempt failing and every @catch fallback running (a
    sweep whose splits all fail and are caught must still finish). While an execution's worst
    case is over the budget, its widest inline foreach (outermost first: one Map Run of N
    child executions is cheaper than N Map Runs) becomes Distributed, whose iterations are
    child executions with their own history, each planned in turn. A foreach that fits stays
    inline: no child executions, no S3 object, one history to read. Deciding at compile time
    keeps one definition per flow (a Choice on the width at run time would need a second copy
    of every foreach body, per nesting level).
    """

    def __init__(self, graph: FlowGraph, max_num_splits: int, max_loop_iterations: int,
                 everything: bool,
                 decorators: dict[str, dict[str, StepDecorator]] | None = None) -> None:
        self.graph = graph
        self.failure_events = {name: _failure_events(own)
                               for name, own in (decorators or {}).items()}
        self.width = max(1, max_num_splits)
        self.loops = max(1, max_loop_iterations)
        self.distributed: set[str] = set()
        self.everything = everything

    def plan(self) -> set[str]:
        foreach = {n.name for n in self.graph if n.transition == "foreach"
                   and n.name in self.graph.reachable}
        if self.everything:
            return foreach
        self._plan_execution("start", None)
        return self.distributed

    def scope(self, first: str, stop: str | None) -> list[str]:
        """The steps one execution runs from ``first`` up to ``stop``: Parallel branches
        included, Map bodies not (they are scopes of their own)."""
        seen: list[str] = []
        todo = [first]
        while todo:
            name = todo.pop()
            if name == stop or name in seen:
                continue
            seen.append(name)
            node = self.graph[name]
            if node.transition in ("split", "foreach"):
                if node.transition == "split":
                    todo += self.graph.children(name)
                if node.matching_join:
                    todo.append(node.matching_join)
            else:
                todo += self.graph.children(name)
        return seen

    def events(self, first: str, stop: str | None) -> int:
        """Worst-case history events of the segment ``first``..``stop`` (all switch branches
        counted, each loop at its bound)."""
        total = 0
        for name in self.scope(first, stop):
            node = self.graph[name]
            own = TASK_EVENTS + self.failure_events.get(name, 0)
            if name == "start" or node.transition in ("foreach", "switch"):
                own += CONTROL_EVENTS + CHOICE_EVENTS
            if node.recursive:
                own *= self.loops
            total += own
            if node.transition == "split":
                total += MAP_STATE_EVENTS
            if node.transition == "foreach":
                total += MAP_STATE_EVENTS + self.map_events(name)
        return total

    def map_events(self, name: str) -> int:
        if name in self.distributed:
            return DISTRIBUTED_MAP_EVENTS
        body = self.graph.children(name)[0]
        return self.width * (MAP_ITERATION_EVENTS
                             + self.events(body, self.graph[name].matching_join))

    def _plan_execution(self, first: str, stop: str | None) -> None:
        while (total := self.events(first, stop)) > EVENT_BUDGET:
            inline = [n for n in self.scope(first, stop)
                      if self.graph[n].transition == "foreach" and n not in self.distributed]
            if not inline:
                if total > HISTORY_LIMIT:
                    loops = [n for n in self.scope(first, stop) if self.graph[n].recursive]
                    raise CompileError(
                        f"step(s) {', '.join(repr(n) for n in loops)} may repeat "
                        f"{self.loops} times, which could take one execution's history to "
                        f"about {total} events, past Step Functions' limit of "
                        f"{HISTORY_LIMIT}; lower --max-loop-iterations.")
                break
            widest = max(inline, key=lambda n: (self.map_events(n), n))
            self.distributed.add(widest)
        for name in self.scope(first, stop):
            if name in self.distributed:
                self._plan_execution(self.graph.children(name)[0],
                                     self.graph[name].matching_join)


class _Compiler:
    def __init__(self, graph: FlowGraph, decorators: dict[str, dict[str, StepDecorator]],
                 task_state: TaskStateFactory, control_key: Callable[[str], dict[str, Any]],
                 table: str, max_workers: int,
                 items_reader: Callable[[str], dict[str, Any]] | None = None,
                 distributed: set[str] | None = None,
                 max_loop_iterations: int = DEFAULT_MAX_LOOP_ITERATIONS) -> None:
        self.graph = graph
        self.decorators = decorators
        self.task_state = task_state
        self.control_key = control_key
        self.table = table
        self.items_reader = items_reader
        self.max_workers = max(1, min(max_workers, MAX_MAP_CONCURRENCY))
        self.distributed = distributed or set()
        self.max_loop_iterations = max_loop_iterations
        self.roles = {name: replace(role, items_to_s3=name in self.distributed)
                      for name, role in step_roles(graph).items()}
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
                               "rerun.$": "$.control.ctl.rerun", "control.$": "$.control",
                               "execution.$": "$$.Execution.Name"},
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
            iteration = self.segment(body, join)
            for state in iteration["States"].values():
                if state.get("End") or state["Type"] == "Succeed":
                    # Each iteration's output is kept in the Map's result (256 KiB at most,
                    # even when ResultPath discards it): make it {}.
                    state["OutputPath"] = None
            states[f"{name}.foreach"] = {
                "Type": "Map",
                "ItemsPath": "$.control.ctl.splits",
                "ItemSelector": {
                    "run.$": "$.run",
                    "rerun.$": "$.rerun",
                    "execution.$": "$.execution",
                    "path.$": "States.Format('{}-{}', $.path, $$.Map.Item.Value)",
                },
                "MaxConcurrency": self.max_workers,
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, **iteration},
                "ResultPath": None,
                **self._next(join, stop),
            }
            if name in self.distributed:
                if self.items_reader is None:
                    raise CompileError(f"step '{name}': a Distributed Map needs an S3 "
                                       "location for its items.")
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
            if node.recursive:
                # The entry stopped the loop at its bound (and marked the run failed).
                states[f"{name}.loop_limit"] = {
                    "Type": "Fail", "Error": "LoopLimit",
                    "Cause": loop_limit_message(name, self.max_loop_iterations,
                                                "step-functions create")}
                choices.append({"Variable": "$.control.ctl.loop_limit", "BooleanEquals": True,
                                "Next": f"{name}.loop_limit"})
            for target in cases:
                choice: dict[str, Any] = {"Variable": "$.control.ctl.next",
                                          "StringEquals": target}
                if target == stop:  # the end of this branch or foreach iteration
                    states[f"{name}.done"] = {"Type": "Succeed"}
                    choice["Next"] = f"{name}.done"
                else:  # another step, or this one again (a loop: its Task state)
                    choice["Next"] = target
                choices.append(choice)
            states[f"{name}.switch"] = {"Type": "Choice", "Choices": choices}
            return {"Next": f"{name}.switch"}
        raise CompileError(f"step '{name}': transition '{node.transition}' cannot be compiled.")


def _failure_events(decorators: dict[str, StepDecorator]) -> int:
    """The events a step's task may add to its history when it fails (``RETRY_EVENTS``)."""
    retry = decorators.get("retry")
    retries = max(0, int(retry.times)) if retry is not None else 0
    return retries * RETRY_EVENTS + (CATCH_EVENTS if "catch" in decorators else 0)


def plan_maps(graph: FlowGraph, max_num_splits: int,
              max_loop_iterations: int = DEFAULT_MAX_LOOP_ITERATIONS,
              everything: bool = False,
              decorators: dict[str, dict[str, StepDecorator]] | None = None) -> set[str]:
    """The foreach steps that compile to Distributed Maps (see ``_MapPlanner``);
    ``decorators`` (step -> its decorators) adds each step's @retry and @catch worst case."""
    return _MapPlanner(graph, max_num_splits, max_loop_iterations, everything,
                       decorators).plan()


def worst_case_events(graph: FlowGraph, max_num_splits: int,
                      max_loop_iterations: int = DEFAULT_MAX_LOOP_ITERATIONS,
                      decorators: dict[str, dict[str, StepDecorator]] | None = None,
                      distributed: set[str] | None = None) -> int:
    """The most history events the top-level execution can record, as ``plan_maps`` counts
    them, with ``distributed`` foreach steps as Distributed Maps."""
    planner = _MapPlanner(graph, max_num_splits, max_loop_iterations, False, decorators)
    planner.distributed = set(distributed or ())
    return planner.events("start", None)


def compile_flow(graph: FlowGraph, decorators: dict[str, dict[str, StepDecorator]],
                 task_state: TaskStateFactory, control_key: Callable[[str], dict[str, Any]],
                 table: str, max_workers: int = 16, comment: str = "",
                 timeout_seconds: int | None = None,
                 items_reader: Callable[[str], dict[str, Any]] | None = None,
                 distributed: set[str] | None = None,
                 max_loop_iterations: int = DEFAULT_MAX_LOOP_ITERATIONS) -> dict[str, Any]:
    """The state machine definition of ``graph`` (a dict; serialize with ``to_json``).

    ``distributed``: the foreach steps to compile as Distributed Maps (``plan_maps``)."""
    check_compilable(graph)
    compiler = _Compiler(graph, decorators, task_state, control_key, table, max_workers,
                         items_reader, distributed, max_loop_iterations)
    definition = {"Comment": comment, **compiler.segment("start", None)}
    if timeout_seconds:
        definition["TimeoutSeconds"] = int(timeout_seconds)
    return definition


def to_json(definition: dict[str, Any]) -> str:
    return json.dumps(definition, sort_keys=True, indent=2)
