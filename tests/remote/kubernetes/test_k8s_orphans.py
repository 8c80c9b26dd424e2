"""A runtime killed (SIGKILL) while its step runs on Kubernetes: ``resume`` deletes the Job the
dead run left running before running that step again (issue 10)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.remote.kubernetes.test_k8s_failures import FAULT_FLOW


def test_resume_deletes_the_jobs_of_a_killed_runtime(k8s, kube):
    from flowlib.client import Run

    env = {**os.environ, **k8s.env}
    with k8s.node_env({"SLEEP": "60"}):
        runtime = subprocess.Popen(
            [sys.executable, str(FAULT_FLOW), "run", "--with", "kubernetes"], cwd=k8s.workdir,
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 60
            while time.time() < deadline and b"working" not in kube.step_log("work"):
                time.sleep(0.2)
            assert b"working" in kube.step_log("work")
        finally:
            runtime.send_signal(signal.SIGKILL)
            runtime.wait(30)
    (job,) = [j for j in kube.jobs_seen if j["metadata"]["labels"]["flowlib/step"] == "work"]
    assert not kube.deleted(job["metadata"]["name"])  # an orphan, running unwatched
    time.sleep(1.5)
    done = k8s.run(FAULT_FLOW, "resume", "--origin-run-id", "1",
                   env={"SLEEP": "0", "FLOWLIB_HEARTBEAT_TIMEOUT": "1"})
    assert "Stopped 1 kubernetes task(s) that run K8sFaultFlow/1 left running." in (
        done.stdout + done.stderr)
    assert kube.deleted(job["metadata"]["name"])
    assert Run("K8sFaultFlow/2").successful
