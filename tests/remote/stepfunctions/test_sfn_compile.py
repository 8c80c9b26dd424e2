"""Compile-only: every flow in tests/flows becomes a definition that passes the States
Language rules we can check offline, the same flow always gives the same bytes, and a graph
that cannot compile is refused with the step named, before anything is created."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flowlib.graph import FlowGraph
from flowlib.remote.stepfunctions.compiler import CompileError, lint_definition, to_json
from flowlib.remote.stepfunctions.naming import Deployment

REPO = Path(__file__).resolve().parents[3]
FLOW_FILES = sorted(p for p in [*(REPO / "tests" / "flows").glob("*.py"),
                                *(REPO / "tests" / "flows" / "remote").glob("*.py")]
                    if p.name != "__init__.py")


def load_flow(path: Path) -> type:
    from flowlib import FlowSpec

    spec = importlib.util.spec_from_file_location(f"sfn_compile_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return next(v for v in vars(module).values()
                if isinstance(v, type) and issubclass(v, FlowSpec) and v is not FlowSpec)


@pytest.fixture
def offline_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowlib.stores import reset_stores

    monkeypatch.setenv("FLOWLIB_CONFIG", "env")
    monkeypatch.setenv("FLOWLIB_DATASTORE_ROOT", str(tmp_path / "store"))
    monkeypatch.setenv("FLOWLIB_BATCH_JOB_QUEUE", "queue")
    monkeypatch.setenv("FLOWLIB_IMAGE", "image:1")
    reset_stores()
    yield
    reset_stores()


def compile_file(path: Path) -> dict[str, Any]:
    from flowlib.graph import validate
    from flowlib.remote.stepfunctions.definition import build
    from flowlib.runtime.router import effective_decorators
    from flowlib.stores import open_stores

    flow_cls = load_flow(path)
    graph = FlowGraph(flow_cls)
    validate(graph, flow_cls)
    deployment = Deployment(graph.name, None, None, "dev")
    return build(flow_cls, graph, open_stores(), deployment,
                 effective_decorators(graph, []), 16, None).definition


def states(definition: dict[str, Any]) -> dict[str, Any]:
    found = {}
    for name, state in definition["States"].items():
        found[name] = state
        for branch in state.get("Branches", []):
            found.update(states(branch))
        if "ItemProcessor" in state:
            found.update(states(state["ItemProcessor"]))
    return found


@pytest.mark.parametrize("path", FLOW_FILES, ids=lambda p: p.stem)
def test_every_flow_compiles_to_valid_states_language(path: Path, offline_profile: None
                                                     ) -> None:
    flow_cls = load_flow(path)
    uses_kubernetes = any(d.name == "kubernetes" for n in FlowGraph(flow_cls)
                          for d in n.decorators)
    if uses_kubernetes:
        with pytest.raises(CompileError, match=r"step '\w+' has @kubernetes"):
            compile_file(path)
        return
    definition = compile_file(path)
    assert lint_definition(definition) == []
    assert to_json(definition) == to_json(compile_file(path))
    graph = FlowGraph(flow_cls)
    tasks = {n for n, s in states(definition).items()
             if s.get("Resource") == "arn:aws:states:::batch:submitJob.sync"}
    assert {n.name for n in graph} <= tasks  # one Batch task state per step
    kinds = {s["Type"] for s in states(definition).values()}
    transitions = {n.transition for n in graph}
    assert ("Parallel" in kinds) == ("split" in transitions)
    assert ("Map" in kinds) == ("foreach" in transitions)
    assert ("switch" in transitions) <= ("Choice" in kinds)
    # Stage 0's code is in the job definition, not in each state's overrides, which AWS Batch
    # limits to 8,192 characters (moto does not): the flows here leave most of it free.
    for name in tasks:
        overrides = states(definition)[name]["Parameters"]["ContainerOverrides"]
        assert len(json.dumps(overrides, separators=(",", ":"))) < 2048, name


def test_distributed_map_reads_items_from_s3(offline_profile: None) -> None:
    from flowlib.remote.stepfunctions.definition import build
    from flowlib.runtime.router import effective_decorators
    from flowlib.stores import open_stores

    flow_cls = load_flow(REPO / "tests" / "flows" / "foreach_flow.py")
    graph = FlowGraph(flow_cls)
    definition = build(flow_cls, graph, open_stores(), Deployment(graph.name, None, None, "dev"),
                       effective_decorators(graph, []), 16, None,
                       distributed_map=True).definition  # the override: every foreach
    assert lint_definition(definition) == []
    maps = [s for s in states(definition).values() if s["Type"] == "Map"]
    assert len(maps) == 2
    for state in maps:
        assert state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
        assert state["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
        assert "ItemsPath" not in state


def test_decorators_become_retry_catch_timeout_and_resources(offline_profile: None) -> None:
    catch = states(compile_file(REPO / "tests" / "flows" / "catch_flow.py"))
    assert catch["broken"]["Retry"][0]["MaxAttempts"] == 1
    assert catch["broken"]["Catch"][0]["Next"] == "broken.catch"
    assert "--catch-fallback" in catch["broken.catch"]["Parameters"]["ContainerOverrides"][
        "Command"]
    timeout = states(compile_file(REPO / "tests" / "flows" / "timeout_flow.py"))
    command = timeout["sleepy"]["Parameters"]["ContainerOverrides"]["Command"]
    assert command[command.index("--timeout") + 1] == "1"
    assert timeout["sleepy"]["Parameters"]["Timeout"]["AttemptDurationSeconds"] >= 60
    mixed = states(compile_file(REPO / "tests" / "flows" / "remote" / "batch_mixed_flow.py"))
    assert all(s["Parameters"]["ContainerOverrides"]["ResourceRequirements"]
               for s in mixed.values() if s["Type"] == "Task" and "JobQueue" in s.get(
                   "Parameters", {}))


def test_only_json_is_deterministic_and_creates_nothing(tmp_path: Path) -> None:
    env = {"FLOWLIB_CONFIG": "env", "FLOWLIB_DATASTORE_ROOT": str(tmp_path / "store"),
           "FLOWLIB_BATCH_JOB_QUEUE": "queue", "FLOWLIB_IMAGE": "image:1", "PATH": "/usr/bin"}
    outputs = [subprocess.run(
        [sys.executable, str(REPO / "tests" / "flows" / "foreach_flow.py"), "step-functions",
         "create", "--only-json"], env=env, capture_output=True, text=True, check=True).stdout
        for _ in range(2)]
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["StartAt"] == "start"
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*.db"))


def build_file(path: Path, **options: Any) -> dict[str, Any]:
    from flowlib.graph import validate
    from flowlib.remote.stepfunctions.definition import build
    from flowlib.runtime.router import effective_decorators
    from flowlib.stores import open_stores

    flow_cls = load_flow(path)
    graph = FlowGraph(flow_cls)
    validate(graph, flow_cls)
    return build(flow_cls, graph, open_stores(), Deployment(graph.name, None, None, "dev"),
                 effective_decorators(graph, []), 16, None, **options).definition


RECURSIVE = REPO / "tests" / "flows" / "compat" / "recursive_switch_flow.py"


def test_a_recursive_switch_loops_back_to_its_task_bounded(offline_profile: None) -> None:
    definition = build_file(RECURSIVE, max_loop_iterations=7)
    assert lint_definition(definition) == []
    assert to_json(definition) == to_json(build_file(RECURSIVE, max_loop_iterations=7))
    found = states(definition)
    switch = found["loop.switch"]["Choices"]
    # First the bound (the entry stopped the loop), then the cases; "again" is the Task again.
    assert switch[0] == {"Variable": "$.control.ctl.loop_limit", "BooleanEquals": True,
                         "Next": "loop.loop_limit"}
    assert {c["StringEquals"]: c["Next"] for c in switch[1:]} == {"after": "after",
                                                                  "loop": "loop"}
    assert found["loop.loop_limit"] == {
        "Type": "Fail", "Error": "LoopLimit",
        "Cause": "step 'loop' repeated itself 7 times through its switch, the limit; raise it "
                 "with step-functions create --max-loop-iterations, or check that the "
                 "condition can end the loop"}
    command = found["loop"]["Parameters"]["ContainerOverrides"]["Command"]
    assert command[command.index("--max-loop-iterations") + 1] == "7" and "--loop" in command
    after = found["after"]["Parameters"]["ContainerOverrides"]["Command"]
    assert after[after.index("--loop-parents") + 1] == "loop"
    # In a foreach, the case that leaves the loop for the join ends the iteration.
    assert {c["StringEquals"]: c["Next"] for c in found["inner.switch"]["Choices"][1:]} == {
        "gather": "inner.done", "inner": "inner"}
    assert found["inner.done"] == {"Type": "Succeed", "OutputPath": None}


def test_a_start_step_that_repeats_itself_is_refused(offline_profile: None) -> None:
    from flowlib.remote.stepfunctions.compiler import check_compilable

    class Node:
        def __init__(self, name: str, transition: str, out: list[str]) -> None:
            self.name, self.transition, self.out_funcs, self.lineno = name, transition, out, 7
            self.recursive = name in out

    class LoopGraph:  # start's switch may repeat start
        nodes = {"start": Node("start", "switch", ["start", "end"]),
                 "end": Node("end", "end", [])}
        reachable = set(nodes)

        def __iter__(self):  # noqa: ANN204
            return iter(self.nodes.values())

        def children(self, name: str) -> list[str]:
            return [c for c in self.nodes[name].out_funcs if c != name]

    with pytest.raises(CompileError, match=r"step 'start' \(line 7\): its switch repeats it"):
        check_compilable(LoopGraph())  # type: ignore[arg-type]


def map_modes(definition: dict[str, Any]) -> dict[str, str]:
    return {name.removesuffix(".foreach"): state["ItemProcessor"]["ProcessorConfig"]["Mode"]
            for name, state in states(definition).items() if state["Type"] == "Map"}


def test_distributed_map_is_chosen_from_the_widths_the_flow_allows(offline_profile: None
                                                                   ) -> None:
    wide = REPO / "tests" / "flows" / "remote" / "batch_foreach_flow.py"
    # 1,000 iterations of one step fit one history (about 8,000 events): inline.
    assert map_modes(build_file(wide, max_num_splits=1000)) == {"start": "INLINE"}
    # 10,000 do not: Distributed, items from S3, and the split task writes them there.
    definition = build_file(wide, max_num_splits=10_000)
    assert lint_definition(definition) == []
    assert map_modes(definition) == {"start": "DISTRIBUTED"}
    found = states(definition)
    assert "--items-to-s3" in found["start"]["Parameters"]["ContainerOverrides"]["Command"]
    assert found["work"]["OutputPath"] is None  # each child's output is {}
    # A child execution has a name of its own: the run's execution is passed down in the
    # state data, and everything after start keys control records and items by it.
    assert found["start.foreach"]["ItemSelector"]["execution.$"] == "$.execution"
    assert "$$.Execution.Name" not in json.dumps({k: v for k, v in found.items()
                                                  if not k.startswith("start")})
    # Nested foreach at the default 100 splits: 10,000 inner iterations in one history would
    # not fit, so the outer foreach is Distributed (one Map Run), the inner stays inline.
    nested = REPO / "tests" / "flows" / "foreach_flow.py"
    assert set(map_modes(build_file(nested)).values()) == {"DISTRIBUTED", "INLINE"}
    outer = next(n for n, s in states(build_file(nested)).items()
                 if s["Type"] == "Map" and s["ItemProcessor"]["ProcessorConfig"]["Mode"]
                 == "DISTRIBUTED")
    assert outer == "start.foreach"
    # A loop in a foreach counts at its bound: a loop that may repeat 1,000 times in each of
    # 100 iterations runs them as child executions.
    assert map_modes(build_file(RECURSIVE)) == {"after": "DISTRIBUTED"}
    assert map_modes(build_file(RECURSIVE, max_loop_iterations=5)) == {"after": "INLINE"}


def test_failing_attempts_and_catch_fallbacks_count_in_the_history_budget() -> None:
    from flowlib.decorators import CatchDecorator, RetryDecorator
    from flowlib.remote.stepfunctions.compiler import plan_maps, worst_case_events

    graph = FlowGraph(load_flow(REPO / "tests" / "flows" / "remote" / "batch_foreach_flow.py"))
    plain: dict[str, dict[str, Any]] = {n.name: {} for n in graph}
    careful = {**plain, "work": {"retry": RetryDecorator(times=3), "catch": CatchDecorator()}}
    # 2,000 one-step splits fit one history while they succeed (about 16,000 events)...
    assert plan_maps(graph, 2000, decorators=plain) == set()
    # ...but not if every split fails four times and is caught: 4 events per failed attempt,
    # the fallback a Task of its own.
    assert (worst_case_events(graph, 2000, decorators=careful)
            - worst_case_events(graph, 2000, decorators=plain)) == 2000 * (3 * 4 + 6)
    assert plan_maps(graph, 2000, decorators=careful) == {"start"}
    assert worst_case_events(graph, 2000, decorators=careful, distributed={"start"}) < 100


def test_a_loop_bound_past_the_history_limit_is_refused(offline_profile: None) -> None:
    with pytest.raises(CompileError, match=r"step\(s\) 'loop' may repeat 5000 times.*lower "
                                           r"--max-loop-iterations"):
        build_file(RECURSIVE, max_loop_iterations=5000)


def test_lint_reports_broken_definitions() -> None:
    broken = {"StartAt": "a", "States": {
        "a": {"Type": "Task", "Resource": "x", "Next": "missing"},
        "b": {"Type": "Choice", "Choices": [], "End": True},
    }}
    problems = lint_definition(broken)
    assert any("'missing'" in p for p in problems)
    assert any("takes no Next or End" in p for p in problems)
    assert any("unreachable" in p for p in problems)


BIG_ENVIRONMENT_FLOW = """
from flowlib import FlowSpec, environment, step


class BigEnvironmentFlow(FlowSpec):
    @environment(vars={"VOCABULARY": "word " * 2000})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigEnvironmentFlow()
"""


def test_overrides_stay_under_the_batch_limit_or_are_refused_at_compile_time(
        tmp_path: Path, offline_profile: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployed step reads its @environment values from the code package, so even 10,000
    characters of them leave its overrides small; what would not fit (here: the room kept for
    Step Functions' run-time values made too large to leave any) is refused before create."""
    from flowlib.remote.stepfunctions import definition

    flow = tmp_path / "big_environment_flow.py"
    flow.write_text(BIG_ENVIRONMENT_FLOW)
    start = states(compile_file(flow))["start"]["Parameters"]["ContainerOverrides"]
    assert len(json.dumps(start, separators=(",", ":"))) < 2048
    assert "word" not in json.dumps(start)
    monkeypatch.setattr(definition, "RUNTIME_VALUES_RESERVE", 8000)
    with pytest.raises(CompileError, match=r"step 'start' cannot run on AWS Batch: its job "
                       r"overrides \(command and environment\) would be 9,\d{3} characters, "
                       r"and Batch fails a job past 8,192. The largest: "):
        compile_file(flow)
