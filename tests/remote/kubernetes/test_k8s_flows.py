"""The flow suite with ``--with kubernetes`` against kmock and the test controller: the same
results as on this machine, every task a Job of its own, and clear failures from the cluster."""

from __future__ import annotations

from flowlib import Flow, Run
from tests.support.backends import FLOWS

REMOTE = FLOWS / "remote"


def _jobs(kube, flow: str, step: str | None = None) -> list[dict]:
    found = [j for j in kube.jobs_seen if j["metadata"]["labels"]["flowlib/flow"] == flow]
    return [j for j in found if step is None or j["metadata"]["labels"]["flowlib/step"] == step]


def test_linear_flow_runs_every_step_as_a_job(k8s, kube, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("some notes\n")
    proc = k8s.run("linear_flow.py", "run", "--who", "team", "--count", "4", "--notes",
                   str(notes))
    run = Flow("LinearFlow").latest_run
    assert run.successful and run.finished
    assert run.data.summary["total"] == (0 + 1 + 2 + 3 + 99) * 0.5
    assert run.data.summary["notes"] == "some notes\n"
    start = run["start"].task
    assert start.data.seen["pathspec"] == start.pathspec and start.data.seen["retry"] == 0
    # The pod log keeps stdout and stderr apart, stored and streamed live with the prefix.
    assert "hello team" in start.stdout and "to stderr" in start.stderr
    assert "to stderr" not in start.stdout
    assert f"[{start.pathspec}] hello team" in proc.stdout
    jobs = _jobs(kube, "LinearFlow")
    assert sorted(j["metadata"]["labels"]["flowlib/step"] for j in jobs) == [
        "end", "middle", "start"]
    job = jobs[0]
    labels = job["metadata"]["labels"]
    assert labels["flowlib/run"] == run.id and labels["flowlib/attempt"] == "0"
    assert job["metadata"]["annotations"]["flowlib/pathspec"].startswith(f"LinearFlow/{run.id}/")
    spec = job["spec"]
    assert spec["backoffLimit"] == 0 and spec["ttlSecondsAfterFinished"] > 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"] == "flowlib-task"
    container = pod["containers"][0]
    assert container["image"].endswith("flowlib:test")
    command = container["command"]  # stage 0 (flowlib ships with the job), then the entry
    assert command[:2] == ["python", "-c"]
    assert command[command.index("--") + 1:][:2] == ["-m", "flowlib.remote.kubernetes.entry"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["FLOWLIB_DATASTORE_ROOT"] == k8s.env["FLOWLIB_DATASTORE_ROOT"]
    assert env["FLOWLIB_USER"] == labels["flowlib/user"]


def test_branches_and_join(k8s):
    k8s.run("branch_flow.py", "run")
    join = Flow("BranchFlow").latest_run["join"].task
    assert join.data.value == 11 + 12 and join.data.base == 10


def test_foreach_of_50_and_its_join(k8s, kube):
    k8s.run(REMOTE / "k8s_foreach_flow.py", "run", "--n", "50", timeout=300)
    run = Flow("K8sForeachFlow").latest_run
    assert run.data.total == sum(i * i for i in range(50))
    assert run["join"].task.data.values == [i * i for i in range(50)]
    squares = list(run["square"].tasks())
    assert len(squares) == 50 and all("square" in t.stdout for t in squares)
    assert len(_jobs(kube, "K8sForeachFlow", "square")) == 50


def test_retry_runs_each_attempt_as_its_own_job(k8s, kube):
    k8s.run("retry_flow.py", "run")
    run = Flow("RetryFlow").latest_run
    assert run.successful and run["flaky"].task.data.attempt_seen == 2
    attempts = sorted(j["metadata"]["labels"]["flowlib/attempt"]
                      for j in _jobs(kube, "RetryFlow", "flaky"))
    assert attempts == ["0", "1", "2"]
    assert len({j["metadata"]["name"] for j in _jobs(kube, "RetryFlow", "flaky")}) == 3


def test_timeout_stops_the_job(k8s, kube):
    # --stubborn: the step swallows the TimeoutException, so the runtime stops the job.
    proc = k8s.run("timeout_flow.py", "run", "--stubborn", "true", expect=1)
    assert "exceeded @timeout of 1 s and did not stop" in proc.stderr
    assert "step 'sleepy'" in proc.stderr
    (job,) = _jobs(kube, "TimeoutFlow", "sleepy")
    assert job["spec"]["activeDeadlineSeconds"] >= 1  # the cluster's backstop
    name = job["metadata"]["name"]
    assert kube.deleted(name)  # flowlib deleted the Job: the pod does not sleep on


def test_resume_reuses_tasks_that_finished_remotely(k8s, tmp_path):
    ledger = tmp_path / "ledger"
    proc = k8s.run("resume_flow.py", "run", "--n", "4",
                   env={"LEDGER": str(ledger), "FAIL_JOIN": "1"}, expect=1)
    assert "join is broken" in proc.stderr
    k8s.run("resume_flow.py", "resume", "--origin-run-id", "1", env={"LEDGER": str(ledger)})
    new_lines = [line for line in ledger.read_text().splitlines() if line.startswith("2 ")]
    assert new_lines == ["2 join", "2 end"]
    run = Run("ResumeFlow/2")
    assert run.successful and run["join"].task.data.total == 14
    assert run["work"].task.origin_pathspec.startswith("ResumeFlow/1/work/")


def test_decorators_shape_the_job_and_plain_steps_stay_local(k8s, kube):
    k8s.with_kubernetes = False
    k8s.run(REMOTE / "k8s_resources_flow.py", "run")
    run = Flow("K8sResourcesFlow").latest_run
    assert run.successful and run["train"].task.data.trained is True
    assert [j["metadata"]["labels"]["flowlib/step"] for j in _jobs(kube, "K8sResourcesFlow")
            ] == ["train"]
    (job,) = _jobs(kube, "K8sResourcesFlow")
    assert job["metadata"]["namespace"] == "ml"
    pod = job["spec"]["template"]["spec"]
    resources = pod["containers"][0]["resources"]
    # The larger of @resources and @kubernetes, requests == limits, GPUs and disk.
    assert resources["requests"] == resources["limits"] == {
        "cpu": "2", "memory": "1024Mi", "nvidia.com/gpu": "1", "ephemeral-storage": "2048Mi"}
    assert pod["nodeSelector"] == {"pool": "gpu"}
    assert pod["tolerations"][0]["key"] == "gpu"
    assert pod["volumes"][0]["emptyDir"] == {"medium": "Memory", "sizeLimit": "256Mi"}
    assert pod["containers"][0]["volumeMounts"][0]["mountPath"] == "/dev/shm"
    assert job["spec"]["activeDeadlineSeconds"] >= 300


def test_on_s3_and_dynamodb_stores(k8s_aws, kube):
    """The real target: pods reach S3 + DynamoDB (moto) with only the profile's keys."""
    k8s_aws.run("linear_flow.py", "run", "--count", "2")
    run = Flow("LinearFlow").latest_run
    assert run.successful and run.data.summary["items"] == [0, 1, 99]
    assert "to stderr" in run["start"].task.stderr
    k8s_aws.run(REMOTE / "k8s_foreach_flow.py", "run", "--n", "5")
    assert Flow("K8sForeachFlow").latest_run.data.total == 30
    (job, *_) = _jobs(kube, "LinearFlow")
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["FLOWLIB_CONFIG"] == "env" and env["FLOWLIB_DATASTORE"] == "s3"
    assert env["FLOWLIB_DYNAMODB_TABLE"] == k8s_aws.table
    assert "FLOWLIB_DATASTORE_ROOT" not in env and "AWS_SECRET_ACCESS_KEY" not in env
