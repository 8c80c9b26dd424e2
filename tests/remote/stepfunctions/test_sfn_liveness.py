"""Liveness of deployed runs (moto): an execution stopped with StopExecution, and one timed
out by --workflow-timeout, end outside any task, where nothing of flowlib runs to record it.
The run must not stay "running": the client, ``status`` and ``list-runs`` show it crashed with
one sentence saying what ended it, ``finished`` is true, and ``resume`` continues it.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from tests.remote.stepfunctions.conftest import REPO
from tests.support.backends import Backend

FLOW = REPO / "tests" / "flows" / "remote" / "sfn_hold_flow.py"


def until(what: str, check, timeout: float = 300.0):  # noqa: ANN001, ANN201
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def trigger(backend: Backend, name: str, hold: Path) -> tuple[str, str]:
    out = backend.run(FLOW, "step-functions", "trigger", "--name", name, "--hold",
                      str(hold)).stdout
    line = next(x for x in out.splitlines() if x.startswith("Run ") and "started" in x)
    return line.split()[1], line.split("(execution ")[1].rstrip(").")


def test_stopped_and_timed_out_executions_show_as_crashed_and_resume(
        sfn_stack, sfn_backend: Backend, tmp_path: Path,  # noqa: ANN001
        monkeypatch: pytest.MonkeyPatch) -> None:
    from flowlib import Run
    from flowlib.remote.stepfunctions.liveness import forget
    from flowlib.stores import open_stores

    # Heartbeats count for nothing here: a deployed run's liveness is its execution's.
    monkeypatch.setenv("FLOWLIB_HEARTBEAT_TIMEOUT", "1")
    sfn = sfn_stack.client("stepfunctions")
    tag = uuid.uuid4().hex[:6]
    stopped_name, timed_name = f"hold-{tag}-stop", f"hold-{tag}-timeout"
    sfn_backend.run(FLOW, "step-functions", "create", "--name", stopped_name, timeout=300)
    sfn_backend.run(FLOW, "step-functions", "create", "--name", timed_name,
                    "--workflow-timeout", "10", timeout=300)
    hold = tmp_path / "hold"
    hold.write_text("")
    stopped, stopped_arn = trigger(sfn_backend, stopped_name, hold)
    timed, timed_arn = trigger(sfn_backend, timed_name, hold)

    # Running (the step holds): running, whatever the (stale) heartbeats say.
    flow, run_id = stopped.split("/")
    meta = open_stores().metadata
    def waiting() -> bool:
        if sfn.describe_execution(executionArn=stopped_arn)["status"] != "RUNNING":
            events = sfn.get_execution_history(executionArn=stopped_arn)["events"]
            raise AssertionError(f"the execution ended early: {events[-3:]}")
        return any(a.status == "running" for t in meta.list_tasks(flow, run_id, "wait")
                   for a in meta.list_attempts(flow, run_id, "wait", t.task_id))

    until("the step 'wait' to start", waiting)
    time.sleep(1.5)
    forget()
    run = Run(stopped)
    assert run.status == "running" and not run.finished and run.status_reason is None
    refused = sfn_backend.run(FLOW, "step-functions", "resume", "--name", stopped_name,
                              "--origin-run-id", run_id, expect=1)
    assert f"run {stopped} is still running" in refused.stderr
    assert "Traceback" not in refused.stderr

    sfn.stop_execution(executionArn=stopped_arn, error="Operator", cause="maintenance")
    until("ABORTED", lambda: sfn.describe_execution(executionArn=stopped_arn)["status"]
          == "ABORTED", 60)
    until("TIMED_OUT", lambda: sfn.describe_execution(executionArn=timed_arn)["status"]
          == "TIMED_OUT", 300)
    forget()

    run = Run(stopped)
    assert run.status == "crashed" and run.crashed and run.finished and not run.successful
    assert run.status_reason.startswith(
        f"its Step Functions execution {stopped_arn.rsplit(':', 1)[1]} was stopped "
        "(StopExecution) at ")
    timed_run = Run(timed)
    assert timed_run.status == "crashed" and timed_run.finished
    assert "timed out" in timed_run.status_reason
    assert "longer than its 10 s limit (TimeoutSeconds, set by 'step-functions create " \
           "--workflow-timeout')" in timed_run.status_reason

    status = sfn_backend.run(FLOW, "status", "--run-id", run_id).stdout
    assert f"Run {stopped}: crashed (its Step Functions execution" in status
    assert f"Continue it with: step-functions resume --origin-run-id {run_id}" in status
    listed = json.loads(sfn_backend.run(FLOW, "step-functions", "list-runs", "--name",
                                        timed_name, "--timed-out", "--output",
                                        "json").stdout)
    assert [(r["run"], r["status"], r["run_status"]) for r in listed] == [
        (timed, "TIMED_OUT", "crashed")]
    assert listed[0]["started_by"].startswith("manual (") and "timed out" in listed[0]["reason"]

    # A Batch job the state machine cannot submit (a queue that does not exist): the execution
    # fails before any task runs; the run says where and why.
    broken_name = f"hold-{tag}-broken"
    missing = "flowlib-no-such-queue"
    sfn_backend.run(FLOW, "step-functions", "create", "--name", broken_name, timeout=300,
                    env={"FLOWLIB_BATCH_JOB_QUEUE": missing})
    failed, failed_arn = trigger(sfn_backend, broken_name, hold)
    until("FAILED", lambda: sfn.describe_execution(executionArn=failed_arn)["status"]
          == "FAILED", 120)
    forget()
    failed_run = Run(failed)
    assert failed_run.status == "crashed" and failed_run.finished
    assert " failed in state 'start' at " in failed_run.status_reason
    assert "and no task recorded why" in failed_run.status_reason
    for shown in (run, timed_run, failed_run):  # for the README (pytest -s)
        print(f"{shown.pathspec}: {shown.status} ({shown.status_reason})")

    hold.unlink()
    proc = sfn_backend.run(FLOW, "step-functions", "resume", "--name", stopped_name,
                           "--origin-run-id", run_id, "--wait", timeout=600)
    resumed = Run(next(x for x in proc.stdout.splitlines() if x.startswith("Run ")).split()[1])
    assert resumed.successful and resumed.finished and resumed.status == "succeeded"
    assert resumed["start"].task.origin_pathspec is not None  # start was cloned
    assert resumed["wait"].task.data.waited
