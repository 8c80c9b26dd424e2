"""Running valid flows end to end through the real command line, on every backend."""

from __future__ import annotations

import json

import pytest

from flowlib import Flow, Run, Task


def test_linear_flow_parameters_current_and_artifacts(backend, tmp_path, monkeypatch):
    notes = tmp_path / "notes.txt"
    notes.write_text("some notes\n")
    proc = backend.run(
        "linear_flow.py",
        "run",
        "--who",
        "team",
        "--count",
        "4",
        "--ratio",
        "2.5",
        "--flag",
        "true",
        "--config",
        '{"depth": 5}',
        "--notes",
        str(notes),
    )
    run = Flow("LinearFlow").latest_run
    assert run.successful and run.finished
    summary = run.data.summary
    assert summary == {
        "who": "team",
        "count": 4,
        "ratio": 2.5,
        "flag": True,
        "config": {"depth": 5},
        "notes": "some notes\n",
        "total": (0 + 1 + 2 + 3 + 99) * 2.5,
        "items": [0, 1, 2, 3, 99],
    }
    start = run["start"].task
    assert start.data.items == [0, 1, 2, 3]  # the parent's version is unchanged
    seen = start.data.seen
    assert seen["flow"] == "LinearFlow" and seen["run"] == run.id and seen["step"] == "start"
    assert seen["pathspec"] == start.pathspec and seen["retry"] == 0
    assert "hello team" in start.stdout and "to stderr" in start.stderr
    assert f"[{start.pathspec}] hello team" in proc.stdout  # streamed live, prefixed


def test_parameter_defaults(backend):
    backend.run("linear_flow.py", "run")
    summary = Flow("LinearFlow").latest_run.data.summary
    assert summary["who"] == "world" and summary["count"] == 3 and summary["flag"] is False
    assert summary["config"] == {"depth": 2} and summary["notes"] is None


def test_static_branches_join_and_merge(backend):
    backend.run("branch_flow.py", "run")
    join = Flow("BranchFlow").latest_run["join"].task
    assert join.data.value == 11 + 12
    assert sorted(join.data.from_index) == [11, 12]
    assert join.data.shared == "same everywhere" and join.data.only_left == "L"
    assert join.data.base == 10


def test_nested_foreach(backend):
    backend.run("foreach_flow.py", "run", "--width", "3")
    run = Flow("ForeachFlow").latest_run
    assert run.data.grid == {"a": ["a1", "a2"], "b": ["b1", "b2"], "c": ["c1", "c2"]}
    assert len(list(run["inner"].tasks())) == 6
    stacks = sorted(tuple(map(tuple, s)) for s in run.data.stacks)
    assert stacks[0] == ((0, 3, "a"), (0, 2, 1)) and stacks[-1] == ((2, 3, "c"), (1, 2, 2))
    indexes = sorted(t.index for t in run["outer"].tasks())
    assert indexes == [0, 1, 2]


@pytest.mark.parametrize("mode", ["fast", "slow"])
def test_switch_takes_one_branch(backend, mode):
    backend.run("switch_flow.py", "run", "--mode", mode)
    run = Flow("SwitchFlow").latest_run
    assert run["after"].task.data.result == f"took {mode}"
    other = {"fast": "slow", "slow": "fast"}[mode]
    assert other not in run and mode in run


def test_switch_with_unknown_value_fails_clearly(backend):
    proc = backend.run("switch_flow.py", "run", "--mode", "medium", expect=1)
    assert "condition 'choice' is 'medium'" in proc.stderr and "'fast', 'slow'" in proc.stderr
    assert "Traceback" not in proc.stderr.split("Run SwitchFlow")[-1]


def test_tags_and_runs_by_tag(backend):
    backend.run("switch_flow.py", "run", "--tag", "nightly", "--tag", "v2")
    backend.run("switch_flow.py", "run", "--tag", "adhoc")
    flow = Flow("SwitchFlow")
    assert [r.id for r in flow.runs("nightly")] == ["1"]
    assert [r.id for r in flow.runs()] == ["2", "1"]
    run = Run("SwitchFlow/1")
    assert {"nightly", "v2"} <= run.user_tags and any(
        t.startswith("user:") for t in run.system_tags
    )


def test_parallel_branches_overlap_and_max_workers_serialises(backend):
    backend.run("parallel_flow.py", "run", "--max-workers", "2")
    (a0, a1), (b0, b1) = Flow("ParallelFlow").latest_run["join"].task.data.spans
    assert b0 < a1  # the second branch started before the first ended
    backend.run("parallel_flow.py", "run", "--max-workers", "1")
    (a0, a1), (b0, b1) = Flow("ParallelFlow").latest_run["join"].task.data.spans
    assert b0 >= a1


def test_retry_then_success(backend):
    backend.run("retry_flow.py", "run")
    task = Flow("RetryFlow").latest_run["flaky"].task
    assert task.successful and task.data.attempt_seen == 2 and task.current_attempt == 2


def test_retry_from_the_command_line(backend):
    proc = backend.run("retry_flow.py", "run", "--with", "retry:times=0", expect=None)
    # the step's own @retry wins over --with: it still succeeds on its third attempt
    assert proc.returncode == 0


def test_catch_stores_the_exception_and_continues(backend):
    backend.run("catch_flow.py", "run")
    run = Flow("CatchFlow").latest_run
    assert run.successful
    assert run.data.outcome == "recovered from builtins.ValueError: this step never works"
    assert run.data.before == "kept"
    broken = run["broken"].task
    assert "this step never works" in broken.log("stderr", attempt=0)
    assert "this step never works" in broken.log("stderr", attempt=1)
    # The last attempt handles the exception in the task (Metaflow's @catch): no extra attempt;
    # the task succeeded, so it has no exception (as in Metaflow): the @catch var holds it.
    assert broken.exception is None and broken.current_attempt == 1


def test_timeout_raises_in_the_step(backend):
    proc = backend.run("timeout_flow.py", "run", expect=1)
    assert "exceeded its @timeout of 1 s" in proc.stderr
    task = Flow("TimeoutFlow").latest_run["sleepy"].task
    assert not task.successful
    assert task.exception.type == "flowlib.exceptions.TimeoutException"
    assert "going to sleep" in task.stdout


def test_timeout_kills_a_step_that_ignores_it(local):
    # The step swallows the TimeoutException: it is killed after the grace period.
    proc = local.run("timeout_flow.py", "run", "--stubborn", "true", expect=1)
    assert "did not stop within 10 s of the TimeoutException" in proc.stderr
    task = Flow("TimeoutFlow").latest_run["sleepy"].task
    assert task.exception.type == "Timeout" and "ignoring the timeout" in task.stdout


def test_show_and_check(backend):
    proc = backend.run("foreach_flow.py", "show")
    assert "outer" in proc.stdout and "foreach" in proc.stdout
    proc = backend.run("foreach_flow.py", "check")
    assert "looks good" in proc.stdout


def test_dump_logs_and_tag_commands(backend):
    backend.run("linear_flow.py", "run", "--who", "cli")
    run = Flow("LinearFlow").latest_run
    start = run["start"].task
    rel = "/".join(start.pathspec.split("/")[1:])
    proc = backend.run("linear_flow.py", "dump", rel, "--name", "items")
    assert "items (list" in proc.stdout and "[0, 1, 2]" in proc.stdout
    proc = backend.run("linear_flow.py", "logs", rel, "--stdout")
    assert proc.stdout.strip() == "hello cli"
    backend.run("linear_flow.py", "tag", "add", "--run-id", run.id, "golden", "reviewed")
    backend.run("linear_flow.py", "tag", "remove", "--run-id", run.id, "reviewed")
    proc = backend.run("linear_flow.py", "tag", "list", "--run-id", run.id)
    assert proc.stdout.split() == ["golden"]
    assert Run(run.pathspec).user_tags == {"golden"}


def test_task_lookup_by_pathspec(backend):
    backend.run("branch_flow.py", "run")
    run = Flow("BranchFlow").latest_run
    task = run["left"].task
    same = Task(task.pathspec)
    assert same.data.value == 11
    sizes = {a.id: (a.type, a.size) for a in same}
    assert sizes["value"][0] == "int" and sizes["value"][1] > 0
    assert json.loads(json.dumps(sorted(sizes))) == sorted(sizes)
