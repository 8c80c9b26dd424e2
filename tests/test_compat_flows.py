"""Metaflow user code runs unchanged (issue 17): one test per flow-semantics cause, on every
backend. The flows live in tests/flows/compat/."""

from __future__ import annotations

from flowlib import Flow

COMPAT = "compat/"


def test_parameters_from_environment_separator_and_class_constants(backend):
    backend.run(
        COMPAT + "params_constants_flow.py",
        "run",
        "--numbers",
        "4;5",
        env={"FLOWLIB_RUN_ALPHA": "7", "METAFLOW_RUN_ITEMS": "p,q,r"},
    )
    run = Flow("ParamsConstantsFlow").latest_run
    seen = run["start"].task.data.seen
    assert seen == {"alpha": 7, "items": ["p", "q", "r"], "numbers": [4, 5]}
    # Constants are artifacts of every task, joins included.
    for step in ("start", "left", "join", "end"):
        task = run[step].task
        assert task.data.LIMIT == 5 and task.data.LABELS == ("x", "y")
    assert run["join"].task.data.limit_in_join == 5

    # The command line wins over the environment; FLOWLIB_ wins over METAFLOW_; defaults split.
    backend.run(
        COMPAT + "params_constants_flow.py",
        "run",
        "--alpha",
        "9",
        env={"FLOWLIB_RUN_ALPHA": "7", "METAFLOW_RUN_ALPHA": "8"},
    )
    seen = Flow("ParamsConstantsFlow").latest_run["start"].task.data.seen
    assert seen == {"alpha": 9, "items": ["a", "b"], "numbers": [1]}


def test_assigning_a_class_constant_is_a_clear_error(backend):
    proc = backend.run(COMPAT + "params_constants_flow.py", "run", "--assign", "true", expect=1)
    assert "cannot assign self.LIMIT: 'LIMIT' is a class-level constant" in proc.stderr


def test_catch_on_end_timeout_raises_first_and_local_retry_at_once(backend):
    proc = backend.run(COMPAT + "catch_compat_flow.py", "run", timeout=100)
    # @retry's default wait (2 minutes) is for remote backends; locally it retries at once.
    assert "retrying (attempt 2 of 2) in 0 s" in proc.stdout + proc.stderr
    run = Flow("CatchCompatFlow").latest_run
    assert run.successful
    slow = run["slow"].task
    assert slow.data.before == "kept" and "after" not in slow
    assert slow.data.timed_out.type == "flowlib.exceptions.TimeoutException"
    assert "exceeded its @timeout of 1 s" in slow.data.timed_out.exception
    end = run["end"].task
    assert end.successful and end.data.partial == "set before the error"
    assert end.data.end_error.type == "builtins.KeyError"
    assert end.exception is None  # handled by @catch: the task succeeded (Metaflow's rule)


def test_segfault_message_is_in_the_stored_stderr(backend):
    backend.run("crash_flow.py", "run", "--how", "segfault", expect=1)
    bad = Flow("CrashFlow").latest_run["bad"].task
    assert "Task failed: the task process crashed with a segmentation fault" in bad.stderr


def test_switch_inside_a_static_branch_and_foreach_inside_a_switch(backend):
    backend.run(COMPAT + "switch_shapes_flow.py", "run", "--mode", "y")
    run = Flow("SwitchShapesFlow").latest_run
    assert run.successful
    assert run["join"].task.data.paths == ["ay", "b"]
    assert run["gather"].task.data.total == 1 + 4 + 9
    assert "ax" not in run and "skip" not in run
    backend.run(COMPAT + "switch_shapes_flow.py", "run", "--route", "skip")
    run = Flow("SwitchShapesFlow").latest_run
    assert run["join"].task.data.paths == ["ax", "b"] and run.data.total == 0


def test_recursive_switch_loops_bounded_shown_and_resumable(backend):
    proc = backend.run(COMPAT + "recursive_switch_flow.py", "show")
    assert "'again': loop (again, a loop)" in proc.stdout
    backend.run(COMPAT + "recursive_switch_flow.py", "run")
    run = Flow("RecursiveSwitchFlow").latest_run
    assert run.successful and run["after"].task.data.count == 3
    assert len(list(run["loop"].tasks())) == 3 and len(list(run["inner"].tasks())) == 4
    assert run.data.words == ["aa", "bb"]
    # Resuming re-uses every repetition, in order, and re-runs from the step asked for.
    backend.run(COMPAT + "recursive_switch_flow.py", "resume", "gather", "--origin-run-id", run.id)
    resumed = Flow("RecursiveSwitchFlow").latest_run
    loops = list(resumed["loop"].tasks())
    assert len(loops) == 3 and all(t.origin_pathspec for t in loops)
    assert resumed.data.words == ["aa", "bb"] and resumed["gather"].task.origin_pathspec is None
    # The bound: a loop that would repeat more often fails with one clear message.
    proc = backend.run(
        COMPAT + "recursive_switch_flow.py", "run", "--target", "50",
        "--max-loop-iterations", "5", expect=1,
    )
    assert "step 'loop' repeated itself 5 times through its switch, the limit" in proc.stderr


def test_recursive_switch_in_the_graph_model():
    """What a compiler (Step Functions) reads: the acyclic graph plus the loop edges."""
    import importlib.util

    from flowlib.graph import FlowGraph, validate
    from tests.support.backends import FLOWS

    path = FLOWS / "compat" / "recursive_switch_flow.py"
    spec = importlib.util.spec_from_file_location("recursive_switch_flow", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graph = FlowGraph(module.RecursiveSwitchFlow)
    validate(graph, module.RecursiveSwitchFlow)
    assert graph.loop_edges == [("loop", "loop", ["again"]), ("inner", "inner", ["yes"])]
    assert graph["loop"].recursive and not graph["after"].recursive
    assert graph.children("loop") == ["after"] and graph["loop"].in_funcs == ["start"]
    assert [n.name for n in graph] == ["start", "loop", "after", "inner", "gather", "end"]
    assert graph["after"].matching_join == "gather"
