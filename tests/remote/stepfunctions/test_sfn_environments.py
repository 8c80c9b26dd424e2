"""@pypi steps in a Step Functions deployment: ``create`` resolves and builds each step's
environment for the container and stores it in S3; every state's command names its bundle,
and the Batch job installs it from there with every package index unreachable (the same path
as ``run --with batch``)."""

from __future__ import annotations

from tests.environments.conftest import FLOWS, shared_uv_cache
from tests.remote.stepfunctions.test_sfn_runs import deploy_and_trigger

UNREACHABLE = {"UV_OFFLINE": "1", "PIP_NO_INDEX": "1",
               "UV_DEFAULT_INDEX": "http://127.0.0.1:9/simple",
               "PIP_INDEX_URL": "http://127.0.0.1:9/simple"}


def test_deployed_steps_run_in_their_locked_environments(sfn_backend, sfn_stack,
                                                        tmp_path_factory, monkeypatch) -> None:
    from flowlib import Run

    monkeypatch.setattr(sfn_stack.docker, "base_env", {**sfn_stack.docker.base_env,
                                                       **UNREACHABLE})
    monkeypatch.setitem(sfn_backend.env, "UV_CACHE_DIR", shared_uv_cache(tmp_path_factory))
    pathspec = deploy_and_trigger(sfn_backend, FLOWS / "two_versions_flow.py")
    run = Run(pathspec)
    assert run.successful
    start, middle, end = (run[s].task for s in ("start", "middle", "end"))
    assert start.data.start_six == "1.16.0" and end.data.end_six == "1.17.0"
    assert start.environment["platform"] == "x86_64-manylinux_2_28"
    assert end.environment["packages"]["six"] == "1.17.0"
    assert middle.environment is None
    # Deployed again unchanged: nothing resolved or built, nothing changed.
    again = sfn_backend.run(FLOWS / "two_versions_flow.py", "step-functions", "create",
                            timeout=300)
    assert "no changes" in again.stdout
    assert "Resolving" not in again.stderr and "Building" not in again.stderr
