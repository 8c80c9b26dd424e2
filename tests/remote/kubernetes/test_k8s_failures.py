"""Failures the cluster causes: each gives one clear message naming the step and what happened,
and the run can be resumed. The test controller injects them (tests/support/kube_controller)."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from flowlib import Flow
from tests.support.backends import FLOWS

FAULT_FLOW = FLOWS / "remote" / "k8s_fault_flow.py"


def _tail(stderr: str) -> str:
    return stderr[stderr.rfind("K8sFaultFlow/"):]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("image_pull", "ImagePullBackOff: pod flowlib-k8sfaultflow-"),
        ("unschedulable", "pod unschedulable: 0/3 nodes are available: 3 Insufficient"),
        # @timeout 60 s + the grace before the runtime kills + the scheduling slack
        ("deadline", "exceeded activeDeadlineSeconds (80 s, from @timeout)"),
        ("oom", "OOMKilled: the container went over its memory limit of 4096 MiB"),
    ],
)
def test_cluster_failures_name_the_step_and_the_cause(k8s, kube, fault, expected):
    kube.inject("work", fault)
    # The deadline and the OOM kill must hit a running step (the controller fires them 0.5 s
    # after the container started).
    env = {"SLEEP": "10"} if fault in ("deadline", "oom") else {}
    proc = k8s.run(FAULT_FLOW, "run", env=env, expect=1)
    tail = proc.stderr[proc.stderr.rfind("failed:"):]
    assert expected in tail and "step 'work'" in tail, proc.stderr
    assert "Traceback" not in tail and "resume --origin-run-id" in tail
    run = Flow("K8sFaultFlow").latest_run
    assert not run.successful and "end" not in run
    assert expected.split(":")[0] in str(run["work"].task.exception)


def test_image_pull_error_deletes_the_job(k8s, kube):
    kube.inject("work", "image_pull")
    k8s.run(FAULT_FLOW, "run", expect=1)
    (job,) = [j for j in kube.jobs_seen if j["metadata"]["labels"]["flowlib/step"] == "work"]
    assert kube.deleted(job["metadata"]["name"])  # no pod left retrying the pull


def test_resume_after_a_cluster_failure(k8s, kube):
    kube.inject("work", "oom")
    k8s.run(FAULT_FLOW, "run", env={"SLEEP": "10"}, expect=1)
    k8s.run(FAULT_FLOW, "resume", "--origin-run-id", "1")
    run = Flow("K8sFaultFlow").latest_run
    assert run.id == "2" and run.successful
    assert run["start"].task.origin_pathspec == "K8sFaultFlow/1/start/1"


def _flow_context():
    spec = importlib.util.spec_from_file_location("k8s_fault_flow", FAULT_FLOW)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from flowlib.cli.commands import FlowContext

    return FlowContext(module.K8sFaultFlow)


def test_kubernetes_list_and_kill(k8s, kube):
    from flowlib.remote.kubernetes.cli import kubernetes_group

    env = {**os.environ, **k8s.env, "SLEEP": "60"}
    proc = subprocess.Popen(
        [sys.executable, str(FAULT_FLOW), "run"], cwd=k8s.workdir, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    with k8s.node_env({"SLEEP": "60"}):
        try:
            deadline = time.time() + 60
            while time.time() < deadline and b"working" not in kube.step_log("work"):
                time.sleep(0.2)
            runner = CliRunner()
            listed = runner.invoke(kubernetes_group(), ["list", "--run-id", "1"],
                                   obj=_flow_context())
            assert listed.exit_code == 0, listed.output
            assert "K8sFaultFlow/1/work/2" in listed.output and "Running" in listed.output
            killed = runner.invoke(kubernetes_group(), ["kill", "--run-id", "1", "--yes"],
                                   obj=_flow_context())
            assert killed.exit_code == 0, killed.output
            assert "Killed K8sFaultFlow/1/work/2" in killed.output
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 1
    assert "step 'work'" in err and "was deleted while it ran" in err
    after = CliRunner().invoke(kubernetes_group(), ["list", "--run-id", "1"],
                               obj=_flow_context())
    assert "No unfinished Jobs" in after.output


def test_ctrl_c_deletes_the_running_jobs(k8s, kube):
    env = {**os.environ, **k8s.env, "SLEEP": "60"}
    with k8s.node_env({"SLEEP": "60"}):
        proc = subprocess.Popen(
            [sys.executable, str(FAULT_FLOW), "run"], cwd=k8s.workdir, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            deadline = time.time() + 60
            while time.time() < deadline and b"working" not in kube.step_log("work"):
                time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 130 and "resume --origin-run-id" in err
    (job,) = [j for j in kube.jobs_seen if j["metadata"]["labels"]["flowlib/step"] == "work"]
    assert kube.deleted(job["metadata"]["name"])
    assert str(Flow("K8sFaultFlow").latest_run["work"].task.exception).startswith("Interrupted")
