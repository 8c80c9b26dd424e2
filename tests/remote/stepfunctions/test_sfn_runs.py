"""Flows deployed to Step Functions (moto), triggered, followed to the end: the same
artifacts as a local run of the same flow, tasks really run as Batch jobs.

One moto server for the module (``sfn_stack``); each test has its own table and prefix.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.remote.stepfunctions.conftest import REPO
from tests.support.backends import Backend

FLOWS = REPO / "tests" / "flows"


def deploy_and_trigger(backend: Backend, flow: Path, *params: str, expect: int = 0,
                       create: tuple[str, ...] = ()) -> str:
    backend.run(flow, "step-functions", "create", *create, timeout=300)
    proc = backend.run(flow, "step-functions", "trigger", "--wait", *params, timeout=600,
                       expect=expect)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("Run ") and "started" in x)
    return line.split()[1]  # Flow/run_id


def local_run(backend: Backend, flow: Path, *params: str, expect: int = 0) -> str:
    proc = backend.run(flow, "run", *params, expect=expect, timeout=300)
    text = proc.stdout + proc.stderr
    line = next(x for x in text.splitlines() if x.startswith("Run ") and "starting" in x)
    return line.split()[1]


def artifacts(pathspec: str, step: str = "end") -> dict[str, Any]:
    from flowlib import Run

    run = Run(pathspec)
    task = run[step].task
    data = {a.id: a.data for a in task.artifacts if not a.id.startswith("_")}
    if isinstance(data.get("seen"), dict):  # current.* of the start step: the run id differs
        data["seen"] = {k: v for k, v in data["seen"].items() if k not in ("run", "pathspec")}
    return data


def task_ids(pathspec: str, step: str) -> list[str]:
    from flowlib import Run

    return sorted(t.id for t in Run(pathspec)[step])


@pytest.mark.parametrize("flow,params,create", [
    ("linear_flow.py", (), ()),
    ("branch_flow.py", (), ()),
    # nested foreach: at --max-num-splits 100 the outer one could reach 10,000 iterations,
    # so it is a Distributed Map (items read from S3), chosen without any flag
    ("foreach_flow.py", ("--width", "2"), ()),
    ("switch_flow.py", ("--mode", "slow"), ()),
])
def test_flow_gives_the_same_artifacts_as_a_local_run(sfn_backend: Backend, flow: str,
                                                      params: tuple[str, ...],
                                                      create: tuple[str, ...]) -> None:
    deployed = deploy_and_trigger(sfn_backend, FLOWS / flow, *params, create=create)
    local = local_run(sfn_backend, FLOWS / flow, *params)
    from flowlib import Run

    run = Run(deployed)
    assert run.successful
    assert "production" in run.system_tags and "trigger:manual" in run.system_tags
    assert artifacts(deployed) == artifacts(local)
    if flow == "switch_flow.py":
        assert [s.id for s in run].count("fast") == 0
    if flow == "foreach_flow.py":
        definition, events = execution_of(sfn_backend)
        assert definition["States"]["start.foreach"]["ItemProcessor"]["ProcessorConfig"][
            "Mode"] == "DISTRIBUTED"
        # The iterations ran as child executions: none of their states is in this history.
        entered = {e["stateEnteredEventDetails"]["name"] for e in events
                   if e["type"].endswith("StateEntered")}
        assert "start.foreach" in entered and not entered & {"inner", "inner.foreach", "leaf"}
        # Every job, also those of the child executions, carries its run (tags evaluated from
        # the state data): what 'terminate' and 'resume' find a run's jobs by.
        assert_jobs_tagged_with_run(deployed)


def assert_jobs_tagged_with_run(pathspec: str) -> None:
    import boto3

    from flowlib import Run

    run_id = pathspec.split("/")[1]
    run = Run(pathspec)
    tags = dict(t.split(":", 1) for t in (*run.system_tags, *run.tags) if ":" in t)
    execution, deployment = tags["step_functions_execution"], tags["step_functions"]
    batch = boto3.client("batch")
    ids = [j["jobId"] for q in batch.describe_job_queues()["jobQueues"]
           for j in batch.list_jobs(jobQueue=q["jobQueueName"], filters=[
               {"name": "JOB_NAME", "values": [f"{deployment}-*"]}])["jobSummaryList"]]
    tagged = [(j["tags"]["flowlib:step"], j["tags"].get("flowlib:execution"),
               j["tags"].get("flowlib:run"))
              for start in range(0, len(ids), 100)
              for j in batch.describe_jobs(jobs=ids[start:start + 100])["jobs"]]
    steps = {step for step, _, _ in tagged}
    assert {"start", "outer", "inner", "inner_join", "outer_join", "end"} <= steps, steps
    assert {(e, r) for step, e, r in tagged if step != "start"} == {(execution, run_id)}
    assert {(e, r) for step, e, r in tagged if step == "start"} == {(execution, None)}


def execution_of(backend: Backend) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The deployed definition and the history of its latest execution (moto)."""
    import boto3

    sfn = boto3.client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][-1]["stateMachineArn"]
    execution = sfn.list_executions(stateMachineArn=machine)["executions"][0]
    events = sfn.get_execution_history(executionArn=execution["executionArn"],
                                       maxResults=1000)["events"]
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine)["definition"])
    return definition, events


def assert_within_history_estimate(backend: Backend, flow: Path, failed: int) -> None:
    """The latest execution's history is no longer than the compiler's worst case for
    ``flow`` (what ``plan_maps`` budgets), and ``failed`` attempts failed in it."""
    from flowlib.graph import FlowGraph
    from flowlib.remote.stepfunctions.compiler import worst_case_events
    from flowlib.runtime.router import effective_decorators
    from tests.remote.stepfunctions.test_sfn_compile import load_flow

    graph = FlowGraph(load_flow(flow))
    estimate = worst_case_events(graph, 100, decorators=effective_decorators(graph, []))
    _, events = execution_of(backend)
    assert [e["type"] for e in events].count("TaskFailed") == failed
    assert events[0]["type"] == "ExecutionStarted"
    assert events[-1]["type"] == "ExecutionSucceeded"
    assert len(events) - 2 <= estimate


def test_recursive_switch_runs_each_visit_as_its_own_task_and_is_bounded(
        sfn_backend: Backend) -> None:
    from flowlib import Run

    flow = FLOWS / "compat" / "recursive_switch_flow.py"
    deployed = deploy_and_trigger(sfn_backend, flow)
    local = local_run(sfn_backend, flow)
    run = Run(deployed)
    assert run.successful
    assert task_ids(deployed, "loop") == ["1", "1.1", "1.2"]
    assert task_ids(deployed, "inner") == ["1-0", "1-0.1", "1-1", "1-1.1"]
    for step in ("after", "gather"):
        assert artifacts(deployed, step) == artifacts(local, step)
    assert artifacts(deployed, "gather")["words"] == ["aa", "bb"]
    from flowlib.stores import open_stores

    meta = open_stores().metadata
    flow_name, run_id = deployed.split("/")
    repeat = meta.get_task(flow_name, run_id, "loop", "1.2")
    assert repeat.input_paths == [f"{deployed}/loop/1.1"]
    # The bound: the run fails with the local runtime's sentence.
    sfn_backend.run(flow, "step-functions", "create", "--max-loop-iterations", "2")
    proc = sfn_backend.run(flow, "step-functions", "trigger", "--wait", "--target", "50",
                           expect=1, timeout=600)
    assert ("step 'loop' repeated itself 2 times through its switch, the limit; raise it "
            "with step-functions create --max-loop-iterations") in proc.stderr
    failed = next(x for x in proc.stdout.splitlines() if x.startswith("Run ")).split()[1]
    assert not Run(failed).successful and task_ids(failed, "loop") == ["1", "1.1"]


def test_foreach_of_50_runs_every_split_as_a_batch_job(sfn_backend: Backend) -> None:
    flow = FLOWS / "remote" / "batch_foreach_flow.py"
    deployed = deploy_and_trigger(sfn_backend, flow, "--width", "50")
    data = artifacts(deployed, "join")
    assert data["total"] == sum(i * i for i in range(50))
    assert len(set(data["jobs"])) == 50 and all(data["jobs"])
    assert len(task_ids(deployed, "work")) == 50


def test_retry_catch_and_timeout_keep_flowlib_semantics(sfn_backend: Backend) -> None:
    from flowlib import Run

    retried = deploy_and_trigger(sfn_backend, FLOWS / "retry_flow.py")
    assert artifacts(retried, "flaky")["attempt_seen"] == 2
    # Both retries failed, the worst case @retry(times=2) allows: the compiler's history
    # budget counts at least what the execution recorded (its estimate leaves out only the
    # execution's own started and succeeded events).
    assert_within_history_estimate(sfn_backend, FLOWS / "retry_flow.py", failed=2)
    caught = deploy_and_trigger(sfn_backend, FLOWS / "catch_flow.py")
    assert_within_history_estimate(sfn_backend, FLOWS / "catch_flow.py", failed=2)
    assert artifacts(caught)["outcome"] == artifacts(local_run(
        sfn_backend, FLOWS / "catch_flow.py"))["outcome"]
    timed = deploy_and_trigger(sfn_backend, FLOWS / "timeout_flow.py", expect=1)
    run = Run(timed)
    assert not run.successful
    from flowlib.stores import open_stores

    flow_name, run_id = timed.split("/")
    task = run["sleepy"].task
    errors = [a.error for a in open_stores().metadata.list_attempts(
        flow_name, run_id, "sleepy", task.id)]
    assert errors and "exceeded @timeout of 1 s" in json.dumps(errors)


def test_failed_production_run_resumes_with_fixed_code(sfn_backend: Backend,
                                                        tmp_path: Path) -> None:
    from flowlib import Run
    from flowlib.stores import open_stores

    flow = tmp_path / "flow" / "resume_me_flow.py"
    flow.parent.mkdir()
    shutil.copy(FLOWS / "remote" / "sfn_resume_flow.py", flow)
    failed = deploy_and_trigger(sfn_backend, flow, expect=1)
    assert not Run(failed).successful
    flow.write_text(flow.read_text().replace('raise RuntimeError("join is broken")', "pass"))
    update = sfn_backend.run(flow, "step-functions", "create")
    assert "changed state" in update.stdout and "code package" in update.stdout
    again = sfn_backend.run(flow, "step-functions", "create")
    assert "no changes" in again.stdout
    origin = failed.split("/")[1]
    proc = sfn_backend.run(flow, "step-functions", "resume", "--origin-run-id", origin,
                           "--wait", timeout=600)
    resumed = next(x for x in proc.stdout.splitlines() if x.startswith("Run "))
    resumed = resumed.split()[1]
    run = Run(resumed)
    assert run.successful and artifacts(resumed, "join")["total"] == 0 + 1 + 4 + 9
    meta = open_stores().metadata
    flow_name, run_id = resumed.split("/")
    tasks = {(t.step, t.task_id): t for t in meta.list_tasks(flow_name, run_id)}
    cloned = sorted(k for k, t in tasks.items() if t.origin)
    assert cloned == [("_parameters", "0"), ("start", "1"), *[("work", f"1-{i}")
                                                               for i in range(4)]]
    assert tasks[("join", "1")].origin is None and tasks[("end", "1")].origin is None
