"""The flow suite on AWS Batch (moto + a fake Docker engine, see conftest): the same flows as
locally, sent to Batch with ``--with batch`` or ``@batch``, must give the same results."""

from __future__ import annotations

from flowlib import Flow, Run
from tests.remote.batch.conftest import QUEUE, run_flow
from tests.support.backends import FLOWS


def _jobs(batch_stack, flow: str, run_id: str) -> list[dict]:
    from flowlib.remote.batch.cli import find_jobs

    return find_jobs(batch_stack.client("batch"), [QUEUE], flow, run_id)


def test_linear_flow_runs_on_batch_like_locally(batch_backend, batch_stack):
    batch_backend.run(FLOWS / "linear_flow.py", "run", "--who", "local", "--count", "4")
    proc = run_flow(batch_backend, FLOWS / "linear_flow.py", "run", "--who", "batch",
                    "--count", "4", "--with", "batch")
    local, remote = Run("LinearFlow/1"), Run("LinearFlow/2")
    assert remote.successful
    assert {**local.data.summary, "who": "batch"} == remote.data.summary
    start = remote["start"].task
    assert start.data.seen["pathspec"] == start.pathspec and start.data.seen["retry"] == 0
    # CloudWatch merges stdout and stderr; both are streamed and stored with the task.
    assert "hello batch" in start.stdout and "to stderr" in start.stdout
    assert f"[{start.pathspec}] hello batch" in proc.stdout
    jobs = _jobs(batch_stack, "LinearFlow", "2")
    assert len(jobs) == 3 and {j["status"] for j in jobs} == {"SUCCEEDED"}
    assert not _jobs(batch_stack, "LinearFlow", "1")  # the local run sent nothing


def test_job_tags_definition_reuse_and_resources(batch_backend, batch_stack):
    run_flow(batch_backend, "batch_mixed_flow.py", "run")
    run_flow(batch_backend, "batch_mixed_flow.py", "run")
    run = Run("BatchMixedFlow/2")
    places = run["join"].task.data.places
    assert places["remote"] and places["local"] is None  # only @batch went to Batch
    assert run.data.total == 42
    client = batch_stack.client("batch")
    (summary,) = _jobs(batch_stack, "BatchMixedFlow", "2")
    job = client.describe_jobs(jobs=[summary["jobId"]])["jobs"][0]
    assert job["jobId"] == places["remote"]
    assert job["tags"]["flowlib:flow"] == "BatchMixedFlow" and job["tags"]["flowlib:run"] == "2"
    assert job["tags"]["flowlib:step"] == "remote" and job["tags"]["flowlib:user"]
    assert job["tags"]["flowlib:task"] == run["remote"].task.id
    command = job["container"]["command"]  # stage 0 (flowlib ships with the job), then the entry
    assert command[:2] == ["python", "-c"]
    assert command[command.index("--") + 1:][:2] == ["-m", "flowlib.remote.bootstrap"]
    env = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert env["FLOWLIB_CONFIG"] == "env" and env["FLOWLIB_S3_BUCKET"]
    assert not any(k.startswith("AWS_SECRET") for k in env)  # credentials come from the role
    definition = client.describe_job_definitions(
        jobDefinitions=[job["jobDefinition"]])["jobDefinitions"][0]
    # @resources and @batch: the larger of each (memory 3000 from @resources, 2 vCPUs).
    reqs = {r["type"]: r["value"] for r in definition["containerProperties"][
        "resourceRequirements"]}
    assert reqs == {"VCPU": "2", "MEMORY": "3000"}
    assert definition["containerProperties"]["linuxParameters"]["sharedMemorySize"] == 256
    assert definition["retryStrategy"]["evaluateOnExit"][0]["onStatusReason"] == "Host EC2*"
    # The instance's bundle cache: a host folder mounted at its own path, named to stage 0.
    container = definition["containerProperties"]
    cache = batch_stack.docker.host_cache
    assert [v["host"]["sourcePath"] for v in container["volumes"]] == [cache]
    assert [m["containerPath"] for m in container["mountPoints"]] == [cache]
    assert {"name": "FLOWLIB_ENVIRONMENTS_DIR", "value": cache} in container["environment"]
    same = client.describe_job_definitions(jobDefinitionName=definition["jobDefinitionName"],
                                           status="ACTIVE")["jobDefinitions"]
    assert len(same) == 1  # registered once, reused by the second run


def test_branches_and_nested_foreach_match_local(batch_backend):
    batch_backend.run(FLOWS / "foreach_flow.py", "run", "--width", "3")
    run_flow(batch_backend, FLOWS / "foreach_flow.py", "run", "--width", "3", "--with", "batch")
    local, remote = Run("ForeachFlow/1"), Run("ForeachFlow/2")
    assert remote.data.grid == local.data.grid
    assert sorted(map(str, remote.data.stacks)) == sorted(map(str, local.data.stacks))
    run_flow(batch_backend, FLOWS / "branch_flow.py", "run", "--with", "batch")
    join = Flow("BranchFlow").latest_run["join"].task
    assert join.data.value == 23 and join.data.shared == "same everywhere"


def test_foreach_of_50_goes_out_as_an_array_job(batch_backend, batch_stack):
    proc = run_flow(batch_backend, "batch_foreach_flow.py", "run", "--with", "batch",
                    "--max-workers", "50",
                    timeout=400)
    run = Flow("BatchForeachFlow").latest_run
    assert run.successful and run["join"].task.data.total == sum(i * i for i in range(50))
    jobs = run["join"].task.data.jobs
    parents = {j.rpartition(":")[0] for j in jobs}
    assert len(set(jobs)) == 50 and len(parents) == 1  # 50 children of one array job
    task = next(iter(run["work"].tasks()))
    assert f"square of {task.index}" in task.stdout
    assert "total 40425" in proc.stdout


def test_retry_catch_and_failing_step(batch_backend):
    run_flow(batch_backend, FLOWS / "retry_flow.py", "run", "--with", "batch")
    task = Flow("RetryFlow").latest_run["flaky"].task
    assert task.successful and task.data.attempt_seen == 2 and task.current_attempt == 2
    run_flow(batch_backend, FLOWS / "catch_flow.py", "run", "--with", "batch")
    run = Flow("CatchFlow").latest_run
    assert run.data.outcome == "recovered from builtins.ValueError: this step never works"
    assert "this step never works" in run["broken"].task.log("stdout", attempt=0)


def test_timeout_terminates_the_job(batch_backend, batch_stack):
    # --stubborn: the step swallows the TimeoutException raised in it, so the runtime stops
    # the job after the grace period.
    proc = run_flow(batch_backend, FLOWS / "timeout_flow.py", "run", "--with", "batch",
                    "--stubborn", "true", expect=1)
    assert "exceeded @timeout of 1 s and did not stop" in proc.stderr
    run = Flow("TimeoutFlow").latest_run
    task = run["sleepy"].task
    assert task.exception.type == "Timeout"
    (summary,) = [j for j in _jobs(batch_stack, "TimeoutFlow", run.id)
                  if "-sleepy-" in j["jobName"]]
    job = batch_stack.client("batch").describe_jobs(jobs=[summary["jobId"]])["jobs"][0]
    assert job["status"] == "FAILED" and job["statusReason"].startswith("flowlib: stopped")
    assert job["timeout"] == {"attemptDurationSeconds": 60}  # AWS's minimum, the safety net


def test_resume_reuses_tasks_that_finished_on_batch(batch_backend, tmp_path):
    marker = tmp_path / "broken"
    marker.write_text("x")
    proc = run_flow(batch_backend, "batch_mixed_flow.py", "run", "--marker", str(marker),
                    "--with", "batch", expect=1)
    assert "join is broken" in proc.stderr
    marker.unlink()
    run_flow(batch_backend, "batch_mixed_flow.py", "resume", "--origin-run-id", "1",
             "--with", "batch")
    run = Run("BatchMixedFlow/2")
    assert run.successful and run.data.total == 42
    assert run["remote"].task.origin_pathspec.startswith("BatchMixedFlow/1/remote/")
    assert run["local"].task.origin_pathspec.startswith("BatchMixedFlow/1/local/")
