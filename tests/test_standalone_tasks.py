"""The standalone task path: every task started as `python flow.py step ...` in a fresh
interpreter, exactly as remote backends will run it, gives the same results."""

from __future__ import annotations

import pytest

from flowlib import Flow
from tests.support.backends import Backend


@pytest.fixture
def standalone(backend: Backend) -> Backend:
    backend.launcher = "subprocess"
    return backend


def test_branches_foreach_and_switch_standalone(standalone):
    standalone.run("foreach_flow.py", "run", "--width", "2")
    grid = Flow("ForeachFlow").latest_run.data.grid
    assert grid == {"a": ["a1", "a2"], "b": ["b1", "b2"]}
    standalone.run("branch_flow.py", "run")
    assert Flow("BranchFlow").latest_run["join"].task.data.value == 23
    standalone.run("switch_flow.py", "run", "--mode", "slow")
    assert Flow("SwitchFlow").latest_run["after"].task.data.result == "took slow"


def test_retry_catch_and_crash_standalone(standalone):
    standalone.run("retry_flow.py", "run")
    assert Flow("RetryFlow").latest_run["flaky"].task.data.attempt_seen == 2
    standalone.run("catch_flow.py", "run")
    outcome = Flow("CatchFlow").latest_run.data.outcome
    assert outcome.startswith("recovered from builtins.ValueError")
    proc = standalone.run("crash_flow.py", "run", "--how", "segfault", expect=1)
    assert "segmentation fault" in proc.stderr


def test_resume_standalone(standalone, tmp_path):
    ledger = tmp_path / "ledger"
    standalone.run(
        "resume_flow.py", "run", "--n", "3", env={"LEDGER": str(ledger), "FAIL_JOIN": "1"}, expect=1
    )
    standalone.run("resume_flow.py", "resume", env={"LEDGER": str(ledger)})
    assert [x for x in ledger.read_text().splitlines() if x.startswith("2 ")] == ["2 join", "2 end"]


def test_step_command_directly_reruns_a_registered_task(standalone):
    standalone.run("branch_flow.py", "run")
    run = Flow("BranchFlow").latest_run
    left = run["left"].task
    # Attempt 0 is recorded; a second standalone attempt of the same task runs again and
    # records attempt 1 with the same result.
    standalone.run(
        "branch_flow.py", "step", "left", "--run-id", run.id, "--task-id", left.id, "--attempt", "1"
    )
    again = Flow("BranchFlow").latest_run["left"].task
    assert again.current_attempt == 1 and again.data.value == 11
    proc = standalone.run(
        "branch_flow.py",
        "step",
        "left",
        "--run-id",
        run.id,
        "--task-id",
        left.id,
        "--attempt",
        "1",
        expect=1,
    )
    assert "already started" in proc.stderr
    proc = standalone.run(
        "branch_flow.py", "step", "left", "--run-id", run.id, "--task-id", "999", expect=1
    )
    assert "is not registered" in proc.stderr


def test_an_attempt_lost_with_its_host_restarts_without_using_a_retry(standalone):
    from flowlib.stores import open_stores

    standalone.run("branch_flow.py", "run")
    run = Flow("BranchFlow").latest_run
    left = run["left"].task
    meta = open_stores().metadata
    # Attempt 1 started on a host that then disappeared: still recorded as running.
    meta.start_attempt("BranchFlow", run.id, "left", left.id, 1)
    args = ["step", "left", "--run-id", run.id, "--task-id", left.id, "--attempt", "1"]
    proc = standalone.run("branch_flow.py", *args, expect=1)
    assert "already started" in proc.stderr
    standalone.run("branch_flow.py", *args, env={"AWS_BATCH_JOB_ATTEMPT": "2"})
    again = Flow("BranchFlow").latest_run["left"].task
    assert again.current_attempt == 1 and again.successful and again.data.value == 11
    # A finished attempt is never started again, whatever the backend says.
    proc = standalone.run("branch_flow.py", *args, env={"AWS_BATCH_JOB_ATTEMPT": "3"}, expect=1)
    assert "already started" in proc.stderr
