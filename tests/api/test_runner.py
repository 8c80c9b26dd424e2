"""``Runner`` against each store (local, and S3 + DynamoDB on moto through a named profile):
blocking ``run`` returning the client Run, ``async_run`` with status, live logs and wait,
failures as one clear error."""

from __future__ import annotations

import pytest

from tests.support.backends import FLOWS, Backend


def test_run_blocks_and_returns_the_client_run(backend: Backend,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from flowlib import Runner

    profile = None
    if backend.name == "aws":
        # The caller's process starts on another profile: profile= decides where the run goes
        # and where the returned Run is read from.
        monkeypatch.delenv("FLOWLIB_PROFILE")
        profile = "aws-test"
    run = Runner(FLOWS / "linear_flow.py", profile=profile, cwd=backend.workdir).run(
        who="runner", count=2, tags=["from-runner"])
    assert run.successful and run.finished
    assert run["start"].task.data.items == [0, 1]
    assert run["end"].task.data.summary is not None
    assert "from-runner" in run.tags
    assert run["start"].task.stdout.strip().endswith("hello runner")


def test_async_run_streams_logs_and_waits(local: Backend) -> None:
    from flowlib import Runner

    with Runner(FLOWS / "linear_flow.py", cwd=local.workdir).async_run(who="async") as running:
        assert running.status in ("running", "successful")
        lines = list(running.stream_log("stdout"))
        running.wait(timeout=120)
        assert running.status == "successful"
        assert any("hello async" in line for line in lines)
        assert running.run.id == running.run_id and running.run.successful
        assert "stdout" not in running.stderr


def test_a_failing_run_is_one_clear_error(local: Backend) -> None:
    from flowlib import Runner
    from flowlib.api.runner import RunnerError

    runner = Runner(FLOWS / "linear_flow.py", cwd=local.workdir)
    with pytest.raises(RunnerError, match="failed with exit code") as caught:
        runner.run(count="not-a-number")
    assert "count" in str(caught.value)
    with pytest.raises(RunnerError, match="does not exist"):
        Runner(FLOWS / "no_such_flow.py")
