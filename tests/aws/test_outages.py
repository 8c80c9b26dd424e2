"""Store outages (issue 10): runs ride them out through a fault-injecting proxy in front of the
moto server (connections dropped, 503s, DynamoDB throttling), and an outage longer than the
configured budget fails with one clear message and a resumable run.

Each outage starts once the run's middle step is running, so the runtime (heartbeats, reaping,
launching the next step) and the tasks (recording outcomes, storing artifacts and logs) all hit
it. The 5-minute case is ``bench/outage_bench.py`` (it would add 5 minutes to CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.backends import FLOWS
from tests.support.fault_proxy import FaultProxy

FLOW = FLOWS / "integrity_flow.py"


@pytest.fixture
def proxy(aws):
    proxy = FaultProxy(aws.stack.url).start()
    yield proxy
    proxy.stop()


def _run_through_outage(aws, proxy: FaultProxy, tmp_path: Path, seconds: float,
                        *args: str, budget: str = "600") -> subprocess.CompletedProcess:
    marker = tmp_path / "middle.started"
    env = {**os.environ, **aws.env, "AWS_ENDPOINT_URL": proxy.url,
           "INTEGRITY_MARKER": str(marker), "INTEGRITY_SLEEP": "1",
           "FLOWLIB_STORE_RETRY_SECONDS": budget}
    proc = subprocess.Popen([sys.executable, str(FLOW), *(args or ("run",))], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()
    proxy.begin_outage(seconds)
    out, err = proc.communicate(timeout=seconds + 300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("seconds", [5, 60])
def test_a_run_rides_out_a_store_outage(aws, proxy, tmp_path, seconds):
    from flowlib.client import Run

    done = _run_through_outage(aws, proxy, tmp_path, seconds)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sum(proxy.injected.values()) >= 2, proxy.injected
    if seconds > 10:
        # Progress is shown once flowlib's own retries take over. A 5 s outage can end inside
        # botocore's (4 attempts, jittered backoff up to 1, 2 and 4 s), with nothing to report.
        assert "the store has been failing for" in done.stderr, done.stdout
    assert "Traceback" not in done.stderr
    run = Run("IntegrityFlow/1")
    assert run.successful and run["end"].task.data.size == 1024


def test_an_outage_longer_than_the_budget_fails_clearly_and_resumes(aws, proxy, tmp_path):
    from flowlib.client import Run

    # One call can outlast the 3 s budget by botocore's own retries (4 attempts, up to 7 s of
    # backoff), so the outage is made long enough that no call started in it can see its end.
    failed = _run_through_outage(aws, proxy, tmp_path, 25, budget="3")
    assert failed.returncode != 0, failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr, failed.stderr
    time.sleep(max(0.0, proxy._down_until - time.monotonic()))
    env = {"AWS_ENDPOINT_URL": proxy.url}
    aws.run(FLOW, "resume", "--origin-run-id", "1", env=env)
    assert Run("IntegrityFlow/2").successful
