"""``step-functions terminate`` and the Batch jobs an ended execution left running (moto).

moto's Step Functions, like AWS for some Map iterations, does not terminate the Batch job a
``.sync`` task waits on when its execution is stopped: the job's process keeps running in the
fake Docker engine. So here:

* run 1 is terminated while its step ``wait`` runs: the execution is ABORTED, the job is
  terminated (its process is gone), the run shows crashed with the reason at once, the error
  cases are one line each; then ``resume`` stops nothing twice and reruns to success;
* run 2's execution is stopped with StopExecution directly (its job left running, as AWS may
  leave a Map iteration's): ``resume`` stops that job before starting the new execution.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.remote.stepfunctions.conftest import REPO
from tests.remote.stepfunctions.test_sfn_compile import (  # noqa: F401 - a fixture
    compile_file,
    offline_profile,
    states,
)
from tests.remote.stepfunctions.test_sfn_liveness import trigger, until
from tests.remote.stepfunctions.test_sfn_runs import local_run
from tests.support.backends import Backend

FLOW = REPO / "tests" / "flows" / "remote" / "sfn_hold_flow.py"


def _container(docker, execution: str, step: str):  # noqa: ANN001, ANN202
    """The fake Docker container running ``step`` of the run whose execution is named so."""
    for container in list(docker.containers.values()):
        env = container.config.get("Env") or []
        cmd = container.config.get("Cmd") or []
        if f"FLOWLIB_SFN_EXECUTION={execution}" in env and step in cmd and container.running:
            return container
    return None


def _one_line_error(proc) -> str:  # noqa: ANN001
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_terminate_stops_the_execution_and_its_jobs_and_resume_stops_leftovers(
        sfn_stack, sfn_backend: Backend, tmp_path: Path) -> None:  # noqa: ANN001
    from flowlib import Run
    from flowlib.remote.stepfunctions.liveness import forget

    sfn, batch = sfn_stack.client("stepfunctions"), sfn_stack.client("batch")
    docker = sfn_stack.docker
    name = f"term-{uuid.uuid4().hex[:6]}"
    sfn_backend.run(FLOW, "step-functions", "create", "--name", name, timeout=300)
    holds = [tmp_path / "hold1", tmp_path / "hold2"]
    for hold in holds:
        hold.write_text("")
    (run1, arn1), (run2, arn2) = (trigger(sfn_backend, name, h) for h in holds)
    flow, id1 = run1.split("/")
    id2 = run2.split("/")[1]
    exec1, exec2 = arn1.rsplit(":", 1)[1], arn2.rsplit(":", 1)[1]
    container1 = until("run 1's step 'wait' to run", lambda: _container(docker, exec1, "wait"))
    container2 = until("run 2's step 'wait' to run", lambda: _container(docker, exec2, "wait"))

    done = sfn_backend.run(FLOW, "step-functions", "terminate", "--name", name, run1).stdout
    assert f"Terminated run {run1} (execution {arn1}); stopped 1 batch job(s)." in done
    assert f"Run {run1}: crashed (its Step Functions execution {exec1} was stopped " \
           "(StopExecution) at " in done
    assert sfn.describe_execution(executionArn=arn1)["status"] == "ABORTED"
    until("run 1's job process to end", lambda: not container1.running, 60)
    jobs = [j for j in batch.list_jobs(jobQueue=sfn_stack.queue, filters=[
        {"name": "JOB_NAME", "values": [f"{name}-wait"]}])["jobSummaryList"]]
    described = batch.describe_jobs(jobs=[j["jobId"] for j in jobs])["jobs"]
    mine = [j for j in described if j["tags"].get("flowlib:execution") == exec1]
    assert [j["tags"]["flowlib:run"] for j in mine] == [id1]
    until("run 1's job to fail", lambda: batch.describe_jobs(jobs=[mine[0]["jobId"]])[
        "jobs"][0]["status"] == "FAILED", 60)
    forget()
    run = Run(run1)
    assert run.status == "crashed" and run.finished and not run.successful
    assert run.status_reason.endswith(
        "(flowlib.Terminated: terminated by "
        f"{run.user} with 'step-functions terminate')"), run.status_reason
    assert container2.running  # the other run is untouched

    # Errors: one line each, non-zero, no traceback.
    again = sfn_backend.run(FLOW, "step-functions", "terminate", "--name", name, id1,
                            expect=1)
    assert f"run {run1} has already ended (crashed (its Step Functions execution " in \
        _one_line_error(again)
    assert "execution ABORTED): nothing to terminate." in again.stderr
    unknown = sfn_backend.run(FLOW, "step-functions", "terminate", "--name", name, "999999",
                              expect=1)
    assert f"run {flow}/999999 does not exist" in _one_line_error(unknown)
    other = sfn_backend.run(FLOW, "step-functions", "terminate", "--name", name, "OtherFlow/3",
                            expect=1)
    assert "OtherFlow/3 is a run of OtherFlow, not of HoldFlow" in _one_line_error(other)
    missing = sfn_backend.run(FLOW, "step-functions", "terminate", "--name", f"{name}-x",
                              id1, expect=1)
    assert f"is not deployed as '{name}-x'" in _one_line_error(missing)
    local_id = local_run(sfn_backend, FLOW).split("/")[1]
    refused = sfn_backend.run(FLOW, "step-functions", "terminate", "--name", name, local_id,
                              expect=1)
    assert "did not run on Step Functions (it was started with 'run')" in \
        _one_line_error(refused)

    # Run 2's execution ends with its job left running (what moto always does, and AWS may
    # do for Map iterations): resume stops it first.
    sfn.stop_execution(executionArn=arn2, error="Operator", cause="console")
    assert container2.running
    resumed2 = sfn_backend.run(FLOW, "step-functions", "resume", "--name", name,
                               "--origin-run-id", id2)
    assert f"Stopped 1 batch task(s) that run {run2} left running." in resumed2.stderr
    until("run 2's orphan process to end", lambda: not container2.running, 60)
    holds[1].unlink()
    arn_resumed2 = resumed2.stdout.split("(execution ")[1].split(")")[0]

    # Run 1 was terminated: its resume finds nothing left to stop, and reruns to success.
    holds[0].unlink()
    resumed1 = sfn_backend.run(FLOW, "step-functions", "resume", "--name", name,
                               "--origin-run-id", id1, "--wait", timeout=300)
    assert "Stopped" not in resumed1.stderr
    pathspec = next(x for x in resumed1.stdout.splitlines() if x.startswith("Run ")).split()[1]
    assert Run(pathspec).successful and Run(pathspec)["wait"].task.data.waited
    until("run 2's resume to end", lambda: sfn.describe_execution(
        executionArn=arn_resumed2)["status"] != "RUNNING", 120)
    assert sfn.describe_execution(executionArn=arn_resumed2)["status"] == "SUCCEEDED"


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
