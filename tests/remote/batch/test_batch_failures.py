"""Failures say what happened and where: each a one-line message naming the step."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from click.testing import CliRunner

from flowlib.remote.batch import jobs
from tests.remote.batch.conftest import FLOWS, IMAGE, QUEUE, REPO, run_flow
from tests.support.backends import FLOWS as LOCAL_FLOWS

SHAPE = jobs.JobShape("acme/flowlib:1", "1", "4096", 0, None, None, None)


def test_a_bad_host_cache_setting_is_refused_before_any_job(batch_backend):
    assert jobs.host_cache(None) == jobs.HOST_CACHE and jobs.host_cache("off") is None
    assert jobs.host_cache("/mnt/flowlib/") == "/mnt/flowlib"
    for bad in ("cache", "/", "/mnt/../etc"):
        with pytest.raises(jobs.BatchConfigError, match=f"batch_host_cache is '{bad}'"):
            jobs.host_cache(bad)
    container = replace(SHAPE, host_cache="/mnt/flowlib").register_kwargs()["containerProperties"]
    assert container["volumes"] == [{"name": jobs.HOST_CACHE_VOLUME,
                                     "host": {"sourcePath": "/mnt/flowlib"}}]
    assert container["mountPoints"][0]["containerPath"] == "/mnt/flowlib"
    assert container["environment"] == [{"name": "FLOWLIB_ENVIRONMENTS_DIR",
                                         "value": "/mnt/flowlib"}]
    assert "volumes" not in SHAPE.register_kwargs()["containerProperties"]  # "off"
    proc = run_flow(batch_backend, LOCAL_FLOWS / "linear_flow.py", "run", "--with", "batch",
                    env={"FLOWLIB_BATCH_HOST_CACHE": "relative/cache"}, expect=1)
    assert "batch_host_cache is 'relative/cache': it must be an absolute folder" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_flow(batch_backend, LOCAL_FLOWS / "linear_flow.py", "run", "--with", "batch",
                    env={"FLOWLIB_BATCH_HOST_CACHE_MAX_AGE_DAYS": "two weeks"}, expect=1)
    assert ("batch_host_cache_max_age_days is 'two weeks': it must be a number of days greater "
            "than 0") in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_job_past_batchs_overrides_limit_fails_its_step_in_one_line(batch_backend, batch_stack,
                                                                     tmp_path):
    """AWS Batch fails a job whose overrides exceed 8,192 characters once it is scheduled;
    moto does not, so flowlib checks before submitting and names what is large."""
    from tests.remote.stepfunctions.test_sfn_compile import BIG_ENVIRONMENT_FLOW

    flow = tmp_path / "big_environment_flow.py"
    flow.write_text(BIG_ENVIRONMENT_FLOW)
    proc = run_flow(batch_backend, flow, "run", "--with", "batch", expect=1)
    assert ("step 'start' cannot run on AWS Batch: its job overrides (command and environment) "
            "would be 11,") in proc.stderr
    assert "The largest: argument VOCABULARY=word word" in proc.stderr
    assert "Traceback" not in proc.stderr
    jobs_of_run = batch_stack.client("batch").list_jobs(
        jobQueue=QUEUE, filters=[{"name": "JOB_NAME", "values": ["flowlib-BigEnvironmentFlow*"]}])
    assert jobs_of_run["jobSummaryList"] == []


def test_disabled_queue_and_missing_queue(batch_backend, batch_stack):
    client = batch_stack.client("batch")
    name = "flowlib-test-disabled"
    if not client.describe_job_queues(jobQueues=[name])["jobQueues"]:
        client.create_job_queue(jobQueueName=name, state="DISABLED", priority=1,
                                computeEnvironmentOrder=[{"order": 1, "computeEnvironment":
                                                          "flowlib-test-ce"}])
    proc = run_flow(batch_backend, LOCAL_FLOWS / "branch_flow.py", "run", "--with",
                    f"batch:queue={name}", expect=1)
    assert "step 'start'" in proc.stderr and f"'{name}' is DISABLED" in proc.stderr
    proc = run_flow(batch_backend, LOCAL_FLOWS / "branch_flow.py", "run", "--with",
                    "batch:queue=no-such-queue", expect=1)
    assert "'no-such-queue' does not exist" in proc.stderr
    proc = run_flow(batch_backend, LOCAL_FLOWS / "branch_flow.py", "run", "--with", "batch",
                    env={"FLOWLIB_BATCH_JOB_QUEUE": ""}, expect=1)
    assert "step 'start' runs on AWS Batch but no job queue is set" in proc.stderr


def test_image_that_cannot_be_pulled(batch_backend):
    proc = run_flow(batch_backend, LOCAL_FLOWS / "branch_flow.py", "run", "--with",
                    "batch:image=acme/missing:1", expect=1)
    line = next(x for x in proc.stderr.splitlines() if "step 'start'" in x)
    assert "acme/missing:1" in line and "pulled" in line


def test_an_image_with_another_flowlib_runs_the_runs_flowlib(batch_backend, batch_stack,
                                                             tmp_path):
    """flowlib ships in the code package: an image's own (older) flowlib is never used."""
    from flowlib import Flow
    from flowlib.version import __version__

    old = tmp_path / "old-image"
    shutil.copytree(REPO / "flowlib", old / "flowlib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (old / "flowlib" / "version.py").write_text('__version__ = "0.0.1"\n')
    batch_stack.docker.image_env["flowlib-runtime:old"] = {"PYTHONPATH": str(old)}
    run_flow(batch_backend, "batch_version_flow.py", "run")
    assert Flow("BatchVersionFlow").latest_run["start"].task.data.version == __version__


def test_ctrl_c_stops_the_runs_jobs(batch_backend, batch_stack):
    import os

    env = {**os.environ, **batch_backend.env, "FLOWLIB_LAUNCHER": "subprocess"}
    proc = subprocess.Popen(
        [sys.executable, str(FLOWS / "batch_foreach_flow.py"), "run", "--with", "batch",
         "--width", "3", "--sleep", "120"],
        cwd=batch_backend.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    from flowlib.remote.batch.cli import find_jobs

    client = batch_stack.client("batch")
    deadline = time.time() + 60
    while time.time() < deadline:
        running = [j for j in find_jobs(client, [QUEUE], "BatchForeachFlow", "1")
                   if "-work-" in j["jobName"] and j["status"] == "RUNNING"]
        if running:
            break
        time.sleep(0.5)
    assert running, "the foreach never started on Batch"
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    time.sleep(1.5)
    work = [j for j in find_jobs(client, [QUEUE], "BatchForeachFlow", "1")
            if "-work-" in j["jobName"]]
    assert work and all(j["status"] == "FAILED" for j in work), work


def test_batch_list_and_kill_commands(batch_backend, batch_stack):
    from flowlib.remote.batch.cli import batch_group

    class Obj:
        name = "BatchForeachFlow"

    run_flow(batch_backend, "batch_foreach_flow.py", "run", "--with", "batch", "--width", "2")
    runner = CliRunner()
    result = runner.invoke(batch_group(), ["list", "--run-id", "1", "--all"], obj=Obj())
    assert result.exit_code == 0, result.output
    assert "SUCCEEDED" in result.output and "flowlib-BatchForeachFlow-1-start-" in result.output
    client = batch_stack.client("batch")
    job = client.submit_job(jobName="flowlib-BatchForeachFlow-1-extra-99", jobQueue=QUEUE,
                            jobDefinition=client.register_job_definition(
                                **jobs.JobShape(IMAGE, "1", "512", 0, None, None, None)
                                .register_kwargs())["jobDefinitionArn"],
                            containerOverrides={"command": ["python", "-c",
                                                            "import time; time.sleep(60)"]})
    result = runner.invoke(batch_group(), ["kill", "--run-id", "1", "--yes"], obj=Obj())
    assert result.exit_code == 0 and "Stopped 1 AWS Batch job" in result.output, result.output
    deadline = time.time() + 20
    while time.time() < deadline:
        status = client.describe_jobs(jobs=[job["jobId"]])["jobs"][0]["status"]
        if status == "FAILED":
            break
        time.sleep(0.5)
    assert status == "FAILED"


# -- messages for what moto cannot produce (AWS's documented status reasons) -----------------
@pytest.mark.parametrize("job, expected", [
    ({"jobId": "j1", "statusReason": "CannotPullContainerError: pull image manifest has been "
      "retried 5 time(s): not found"}, "image acme/flowlib:1 cannot be pulled"),
    ({"jobId": "j1", "statusReason": "ResourceInitializationError: unable to pull secrets"},
     "could not be set up"),
    ({"jobId": "j1", "statusReason": "Job attempt duration exceeded timeout"},
     "killed by its deadline (attempt duration 120 s"),
    ({"jobId": "j1", "statusReason": "Host EC2 (instance i-0abc) terminated."},
     "EC2 host went away"),
    ({"jobId": "j1", "container": {"exitCode": 137, "reason": "OutOfMemoryError: Container "
      "killed due to memory usage"}}, "more than its 4096 MiB"),
    ({"jobId": "j1", "container": {"exitCode": 78}}, "not the launching machine's"),
])
def test_status_reasons_become_one_line_messages(job, expected):
    message = jobs.explain_failure(job, "train", SHAPE, [], 120)
    assert message.startswith("step 'train' (AWS Batch job j1): ") and expected in message
    assert "\n" not in message


def test_quota_on_submit_is_explained():
    message = jobs.submit_problem("train", "q", "ClientException: Too many jobs in the queue")
    assert "step 'train'" in message and "quota" in message


def test_array_child_picks_its_task():
    from flowlib.remote.batch.entry import resolve

    args = ["--", "--flow", "F", "--", "step", "work", "--task-id", jobs.ARRAY_PLACEHOLDER]
    env = {jobs.ARRAY_TASKS_ENV: "7,8,9", "AWS_BATCH_JOB_ARRAY_INDEX": "2"}
    assert resolve(args, env)[-1] == "9"
    assert resolve(args, {jobs.ARRAY_TASKS_ENV: "7,8,9", "AWS_BATCH_JOB_ID": "abc:1"})[-1] == "8"
