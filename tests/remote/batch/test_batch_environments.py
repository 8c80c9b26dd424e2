"""@pypi on AWS Batch through the moto + Docker Engine API test bed: the environment is
resolved for linux x86_64 here, stored in S3 as a bundle, and unpacked in the "container"
(a local process running the job's command) with every package index unreachable."""

from __future__ import annotations

import os
import time
from pathlib import Path

from flowlib.environments.host_cache import DAY, MARKER, STAMP
from tests.environments.conftest import shared_uv_cache
from tests.remote.batch.conftest import run_flow

FLOWS = Path(__file__).resolve().parents[2] / "environments" / "flows"


def test_each_batch_step_gets_its_locked_versions_offline(
    batch_backend, batch_stack, tmp_path_factory, monkeypatch
) -> None:
    from flowlib import Flow

    uv_cache = shared_uv_cache(tmp_path_factory)
    # The container has no package index: anything trying one would fail.
    unreachable = {"UV_OFFLINE": "1", "PIP_NO_INDEX": "1",
                   "UV_DEFAULT_INDEX": "http://127.0.0.1:9/simple",
                   "PIP_INDEX_URL": "http://127.0.0.1:9/simple"}
    monkeypatch.setattr(batch_stack.docker, "base_env", {**batch_stack.docker.base_env,
                                                         **unreachable})
    envs = {"UV_CACHE_DIR": uv_cache,
            "FLOWLIB_ENVIRONMENTS_DIR": str(tmp_path_factory.mktemp("environments"))}
    # The instance's host cache holds an environment no job has used for 20 days: the first
    # job that unpacks one prunes it (flowlib.environments.host_cache).
    aged = Path(batch_stack.docker.host_cache) / "bundles" / ("a9" * 32)
    aged.mkdir(parents=True, exist_ok=True)
    (aged / MARKER).write_text("{}")
    (aged / STAMP).touch()
    when = time.time() - 20 * DAY
    os.utime(aged / STAMP, (when, when))
    first = run_flow(batch_backend, FLOWS / "two_versions_flow.py", "run", "--with", "batch",
                     env=envs)
    assert first.stdout.count("Building container environment ") == 2
    assert not aged.exists()
    assert (f"[TwoVersionsFlow/1/start/1] flowlib: host cache {aged.parent}: removed 1 entry "
            f"({'a9' * 6} unused for 20 days, ") in first.stdout
    run = Flow("TwoVersionsFlow").latest_run
    start, middle, end = (run[s].task for s in ("start", "middle", "end"))
    assert start.data.start_six == "1.16.0" and end.data.end_six == "1.17.0"
    assert f"flowlib: host cache {aged.parent}: removed 1 entry" in start.stdout  # its log
    assert start.environment["platform"] == "x86_64-manylinux_2_28"
    assert {"six", "boto3"} <= set(end.environment["packages"])
    assert middle.environment is None

    second = run_flow(batch_backend, FLOWS / "two_versions_flow.py", "run", "--with", "batch",
                      env=envs)
    assert "Building" not in second.stdout and "Resolving" not in second.stdout
    assert Flow("TwoVersionsFlow").latest_run["end"].task.data.end_six == "1.17.0"


def test_a_bad_package_on_batch_fails_before_any_job(batch_backend) -> None:
    import pytest

    from flowlib import Flow
    from flowlib.exceptions import NotFoundError

    proc = run_flow(batch_backend, FLOWS / "bad_environments_flow.py", "run", "--with", "batch",
                    expect=1)
    assert "no-such-package-flowlib-test was not found" in proc.stderr
    assert "Traceback" not in proc.stderr
    with pytest.raises(NotFoundError):  # no run was created, so no job was submitted
        list(Flow("BadEnvironmentsFlow"))
