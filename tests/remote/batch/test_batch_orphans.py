"""A runtime killed (SIGKILL) while its tasks run on AWS Batch: ``resume`` stops the jobs the
dead run left running before it runs those steps again, so no step runs twice side by side and
no orphan writes late into the store (issue 10)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from tests.remote.batch.conftest import FLOWS, QUEUE


def _work_jobs(client, run_id: str) -> list[dict]:
    from flowlib.remote.batch.cli import find_jobs

    return [j for j in find_jobs(client, [QUEUE], "BatchForeachFlow", run_id)
            if "-work-" in j["jobName"]]


def test_resume_stops_the_batch_jobs_of_a_killed_runtime(batch_backend, batch_stack):
    env = {**os.environ, **batch_backend.env, "FLOWLIB_LAUNCHER": "subprocess"}
    flow = str(FLOWS / "batch_foreach_flow.py")
    runtime = subprocess.Popen(
        [sys.executable, flow, "run", "--with", "batch", "--width", "2", "--sleep", "120"],
        cwd=batch_backend.workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = batch_stack.client("batch")
    deadline = time.time() + 90
    running: list[dict] = []
    while time.time() < deadline and len(running) < 2:
        running = [j for j in _work_jobs(client, "1") if j["status"] == "RUNNING"]
        time.sleep(0.5)
    assert len(running) == 2, "the foreach never started on Batch"
    runtime.send_signal(signal.SIGKILL)
    runtime.wait(30)
    time.sleep(1.5)
    # The orphans. Under a heavily loaded CI machine one job has been seen to end on its own
    # around the kill (cause not found); the resume must stop whichever are still running.
    orphans = {j["jobId"] for j in _work_jobs(client, "1") if j["status"] == "RUNNING"}
    assert orphans, "no Batch job outlived the runtime"

    # The dead run counts as crashed after 1 s without heartbeats (default: 60 s).
    resume = subprocess.Popen(
        [sys.executable, flow, "resume", "--origin-run-id", "1", "--with", "batch"],
        cwd=batch_backend.workdir, env={**env, "FLOWLIB_HEARTBEAT_TIMEOUT": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen = []
        for line in resume.stdout:
            seen.append(line)
            # Usually 2; under load a third job of run 1 (a Batch-level restart) has been seen.
            if re.search(r"Stopped \d+ batch task\(s\) that run BatchForeachFlow/1 left "
                         r"running\.", line):
                break
        else:
            raise AssertionError("".join(seen))
        deadline = time.time() + 30
        while time.time() < deadline:
            statuses = {j["status"] for j in _work_jobs(client, "1") if j["jobId"] in orphans}
            if statuses == {"FAILED"}:
                break
            time.sleep(0.5)
        assert statuses == {"FAILED"}, statuses
    finally:
        resume.send_signal(signal.SIGINT)
        try:
            resume.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            resume.kill()
