"""``step-functions terminate`` and the Batch jobs an ended execution left running (moto).

moto's Step Functions, like AWS for some Map iterations, does not terminate the Batch job a
``.sync`` task waits on when its execution is stopped: the job's process keeps running in the
fake Docker engine. The flow here is a foreach run as a Distributed Map (each split a child
execution, the case AWS is least reliable about), 3 splits at most 2 at a time, each holding
while a file exists. So:

* run 1 is terminated while 2 splits run: the execution is ABORTED, both jobs are terminated
  (their processes are gone), the third split never starts, the run shows crashed with the
  reason at once, and the error cases are one line each; then its ``resume`` stops nothing
  twice; that rerun's execution is stopped directly with 2 splits running, and ``terminate``
  of the ended run stops the 2 jobs it left (exit 0);
* run 2's execution is stopped with StopExecution directly (its jobs left running, as AWS may
  leave a Map iteration's): ``resume`` stops them before starting the new execution, which
  reruns the run to success.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from tests.remote.stepfunctions.conftest import REPO
from tests.remote.stepfunctions.test_sfn_compile import (  # noqa: F401 - a fixture
    compile_file,
    load_flow,
    offline_profile,
    states,
)
from tests.remote.stepfunctions.test_sfn_liveness import until
from tests.support.backends import Backend

FLOW = REPO / "tests" / "flows" / "remote" / "sfn_hold_foreach_flow.py"


def _containers(docker, execution: str) -> list:  # noqa: ANN001
    """The running fake Docker containers of the run whose execution is named so."""
    return [c for c in list(docker.containers.values()) if c.running
            and f"FLOWLIB_SFN_EXECUTION={execution}" in (c.config.get("Env") or [])]


def _trigger(backend: Backend, name: str, hold: Path) -> tuple[str, str]:
    return _started(backend.run(FLOW, "step-functions", "trigger", "--name", name, "--hold",
                                str(hold)).stdout)


def _jobs(batch, queue: str, job_name: str, execution: str) -> list[dict]:  # noqa: ANN001
    """The Batch jobs named so that carry the run's execution tag."""
    ids = [j["jobId"] for j in batch.list_jobs(jobQueue=queue, filters=[
        {"name": "JOB_NAME", "values": [job_name]}])["jobSummaryList"]]
    return [j for j in batch.describe_jobs(jobs=ids)["jobs"]
            if j["tags"].get("flowlib:execution") == execution]


def _started(stdout: str) -> tuple[str, str]:
    """(pathspec, execution ARN) from 'Run F/12 started on Step Functions (execution ARN).'"""
    line = next(x for x in stdout.splitlines() if x.startswith("Run ") and "started" in x)
    return line.split()[1], line.split("(execution ")[1].rstrip(").")


def _one_line_error(code: int, stderr: str) -> str:
    assert code != 0
    assert "Traceback" not in stderr, stderr
    lines = [x for x in stderr.splitlines() if x.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def _terminate_here(args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch,
                    capsys: pytest.CaptureFixture, stream: str = "err") -> tuple[int, str]:
    """``python flow.py step-functions terminate ARGS`` in this process: the flow file's entry
    point (``main``), which turns errors into one line and an exit code; returns the exit code
    and ``stream`` (``err`` or ``out``)."""
    from flowlib.cli.main import main
    from flowlib.remote.stepfunctions.liveness import forget

    monkeypatch.setattr(sys, "argv", [str(FLOW), "step-functions", "terminate", *args])
    capsys.readouterr()
    forget()
    with pytest.raises(SystemExit) as exited:
        main(load_flow(FLOW))
    return int(exited.value.code or 0), getattr(capsys.readouterr(), stream)


def test_terminate_stops_the_execution_and_its_jobs_and_resume_stops_leftovers(
        sfn_stack, sfn_backend: Backend, tmp_path: Path,  # noqa: ANN001
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from flowlib import Run
    from flowlib.remote.stepfunctions.liveness import forget
    from flowlib.stores import open_stores

    sfn, batch = sfn_stack.client("stepfunctions"), sfn_stack.client("batch")
    docker = sfn_stack.docker
    name = f"term-{uuid.uuid4().hex[:6]}"
    sfn_backend.run(FLOW, "step-functions", "create", "--name", name, "--use-distributed-map",
                    "--max-workers", "2", timeout=300)
    holds = [tmp_path / "hold1", tmp_path / "hold2"]
    for hold in holds:
        hold.write_text("")
    (run1, arn1), (run2, arn2) = (_trigger(sfn_backend, name, h) for h in holds)
    flow, id1 = run1.split("/")
    id2 = run2.split("/")[1]
    exec1, exec2 = arn1.rsplit(":", 1)[1], arn2.rsplit(":", 1)[1]
    splits1 = until("2 splits of run 1 to run", lambda: len(c := _containers(docker, exec1))
                    == 2 and c)
    splits2 = until("2 splits of run 2 to run", lambda: len(c := _containers(docker, exec2))
                    == 2 and c)

    done = sfn_backend.run(FLOW, "step-functions", "terminate", "--name", name, run1).stdout
    assert f"Terminated run {run1} (execution {arn1}); stopped 2 batch job(s)." in done
    assert f"Run {run1}: crashed (its Step Functions execution {exec1} was stopped " \
           "(StopExecution) at " in done
    assert sfn.describe_execution(executionArn=arn1)["status"] == "ABORTED"
    until("run 1's job processes to end", lambda: not any(c.running for c in splits1), 60)
    waits1 = _jobs(batch, sfn_stack.queue, f"{name}-wait", exec1)
    assert len(waits1) == 2
    assert {j["tags"]["flowlib:run"] for j in waits1} == {id1}
    until("run 1's jobs to fail", lambda: {j["status"] for j in batch.describe_jobs(
        jobs=[j["jobId"] for j in waits1])["jobs"]} == {"FAILED"}, 60)
    forget()
    run = Run(run1)
    assert run.status == "crashed" and run.finished and not run.successful
    assert run.status_reason.endswith(
        "(flowlib.Terminated: terminated by "
        f"{run.user} with 'step-functions terminate')"), run.status_reason
    assert all(c.running for c in splits2)  # the other run is untouched

    # Errors: one line each, non-zero, no traceback (one in its own process, the others
    # through the same entry point in this one, to keep the test short).
    again = sfn_backend.run(FLOW, "step-functions", "terminate", "--name", name, id1,
                            expect=1)
    assert f"run {run1} has already ended, its execution ABORTED: crashed (its Step " \
           f"Functions execution {exec1} was stopped (StopExecution) at " in \
        _one_line_error(again.returncode, again.stderr)
    assert "with 'step-functions terminate')). Nothing to terminate." in again.stderr
    meta = open_stores().metadata
    local_id = meta.create_run(flow, "someone", ["user:someone", "runtime:local"], []).run_id
    for args, error in [
            (("--name", name, "999999"), f"run {flow}/999999 does not exist"),
            (("--name", name, "OtherFlow/3"), f"OtherFlow/3 is a run of OtherFlow, not of {flow}"),
            (("--name", f"{name}-x", id1), f"is not deployed as '{name}-x'"),
            (("--name", name, local_id), "did not run on Step Functions (it was started with "
                                         "'run')")]:
        code, err = _terminate_here(args, monkeypatch, capsys)
        assert error in _one_line_error(code, err)

    # Run 2's execution ends with its jobs left running (what moto always does, and AWS may
    # do for Map iterations): resume stops them first, and the new execution reruns the run.
    sfn.stop_execution(executionArn=arn2, error="Operator", cause="console")
    resumed2 = sfn_backend.run(FLOW, "step-functions", "resume", "--name", name,
                               "--origin-run-id", id2)
    assert f"Stopped 2 batch task(s) that run {run2} left running." in resumed2.stderr
    until("run 2's orphan processes to end", lambda: not any(c.running for c in splits2), 60)
    holds[1].unlink()
    rerun2, arn_rerun2 = _started(resumed2.stdout)

    # Run 1 was terminated: its resume finds nothing left to stop. Its rerun's execution is
    # then stopped directly while 2 splits hold (jobs left running): terminate of the ended
    # run stops them and says so, with exit 0.
    resumed1 = sfn_backend.run(FLOW, "step-functions", "resume", "--name", name,
                               "--origin-run-id", id1)
    assert "Stopped" not in resumed1.stderr
    rerun1, arn_rerun1 = _started(resumed1.stdout)
    exec_rerun1 = arn_rerun1.rsplit(":", 1)[1]
    splits_rerun1 = until("2 splits of run 1's rerun to run", lambda: len(
        c := _containers(docker, exec_rerun1)) == 2 and c)
    sfn.stop_execution(executionArn=arn_rerun1, error="Operator", cause="console")
    until("the rerun's execution to end", lambda: sfn.describe_execution(
        executionArn=arn_rerun1)["status"] == "ABORTED", 60)
    code, out = _terminate_here(("--name", name, rerun1), monkeypatch, capsys, "out")
    assert code == 0
    assert f"Stopped 2 batch job(s) that run {rerun1} left running (its execution " \
           f"{arn_rerun1} had already ended: ABORTED)." in out
    assert f"Run {rerun1}: crashed (its Step Functions execution {exec_rerun1} was stopped " \
           "(StopExecution) at " in out and "(Operator: console))." in out
    until("the rerun's job processes to end", lambda: not any(
        c.running for c in splits_rerun1), 60)

    assert len(_jobs(batch, sfn_stack.queue, f"{name}-wait", exec1)) == 2  # no third split
    until("run 2's resume to end", lambda: sfn.describe_execution(
        executionArn=arn_rerun2)["status"] != "RUNNING", 300)
    forget()
    assert Run(rerun2).successful, Run(rerun2).status_reason
    assert Run(rerun2)["join"].task.data.values == [0, 1, 2]


@pytest.mark.usefixtures("offline_profile")
def test_every_job_carries_its_run_in_tags_evaluated_from_the_state() -> None:
    from flowlib.remote.stepfunctions.run_jobs import definition_queues

    definition = compile_file(REPO / "tests" / "flows" / "foreach_flow.py")
    tasks = {name: state["Parameters"]["Tags"] for name, state in states(definition).items()
             if state.get("Resource") == "arn:aws:states:::batch:submitJob.sync"}
    assert set(tasks) >= {"start", "outer", "inner", "inner_join", "outer_join", "end"}
    for name, tags in tasks.items():
        if name == "start":  # a scheduled run's start task allocates the run: no id yet
            assert tags["flowlib:execution.$"] == "$$.Execution.Name"
            assert "flowlib:run.$" not in tags
        else:  # also inside Map iterations and Distributed Map child executions
            assert tags["flowlib:execution.$"] == "$.execution"
            assert tags["flowlib:run.$"] == "$.run"
    assert definition_queues(definition) == ["queue"]


@pytest.mark.parametrize("ref,expected", [
    ("12", "12"), ("HoldFlow/12", "12"), ("OtherFlow/12", "is a run of OtherFlow"),
    ("HoldFlow/12/start", "is not a run"), ("", "is not a run")])
def test_a_run_is_named_by_id_or_pathspec(ref: str, expected: str) -> None:
    from flowlib.remote.stepfunctions.terminate import TerminateError, run_id_of

    if expected.isdigit():
        assert run_id_of("HoldFlow", ref) == expected
    else:
        with pytest.raises(TerminateError, match=expected):
            run_id_of("HoldFlow", ref)
