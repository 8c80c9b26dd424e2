"""flowlib ships with the job: a plain Python image (no flowlib, no boto3) runs a step.

The "image" is a virtualenv with nothing installed (the fake Docker server runs the job's
``python`` with it, ``PYTHONPATH`` emptied, every package index unreachable), and the profile
names no image at all: the step gets the default (the official Python image), and stage 0
fetches flowlib from the code package and its dependencies from the runtime bundle in S3."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowlib.remote.runtime import default_image
from tests.remote.batch.conftest import REPO, BatchStack, run_flow
from tests.support.backends import Backend
from tests.support.moto_server import write_config

UNREACHABLE = {"UV_OFFLINE": "1", "PIP_NO_INDEX": "1",
               "UV_DEFAULT_INDEX": "http://127.0.0.1:9/simple",
               "PIP_INDEX_URL": "http://127.0.0.1:9/simple"}


@pytest.fixture(scope="session")
def plain_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python with the standard library only: what python:3.X-slim has."""
    from tests.support.fake_docker import plain_python

    return plain_python(tmp_path_factory.mktemp("plain"))


@pytest.fixture
def no_image_backend(batch_stack: BatchStack, plain_python: str, tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    stack = batch_stack.stack
    table = stack.create_table()
    profile = stack.profile(table, f"tests/{uuid.uuid4().hex[:12]}",
                            batch_job_queue=batch_stack.queue)  # no image
    config = write_config(tmp_path / "flowlib-config.json", {"no-image": profile})
    backend = Backend("aws-batch", tmp_path, {**stack.env, "FLOWLIB_CONFIG": str(config),
                                              "FLOWLIB_PROFILE": "no-image"}, "subprocess")
    backend.activate(monkeypatch)
    monkeypatch.delenv("FLOWLIB_DATASTORE_ROOT", raising=False)
    image = default_image()
    monkeypatch.setitem(batch_stack.docker.image_python, image, plain_python)
    monkeypatch.setitem(batch_stack.docker.image_env, image,
                        {"PYTHONPATH": "", **UNREACHABLE,
                         "FLOWLIB_ENVIRONMENTS_DIR": str(tmp_path / "host-cache")})
    yield backend
    from flowlib.stores import reset_stores

    reset_stores()
    stack.delete_table(table)


def test_a_plain_python_image_runs_steps_with_the_runs_flowlib(no_image_backend, batch_stack):
    from flowlib import Flow

    run_flow(no_image_backend, "any_image_flow.py", "run", "--with", "batch")
    run = Flow("AnyImageFlow").latest_run
    assert run.successful
    start = run["start"].task
    # flowlib from the code package, boto3 from the runtime bundle: nothing from this checkout
    # or this test's virtualenv.
    assert "/.flowlib-lib/flowlib/" in start.data.flowlib_file, start.data.flowlib_file
    assert not start.data.flowlib_file.startswith(str(REPO))
    assert "/host-cache/bundles/" in start.data.boto3_file, start.data.boto3_file
    assert start.data.python_prefix != sys.prefix
    # Stage 0's time: credentials, code package, runtime bundle (fetched and unpacked by the
    # first task, found in the host folder by the second).
    print(f"\nstage 0: {start.data.stage0_seconds:.2f} s (cold host), "
          f"{run['end'].task.data.stage0_seconds:.2f} s (warm host)")
    jobs = batch_stack.client("batch")
    described = [j for s in ("SUCCEEDED",) for j in jobs.list_jobs(
        jobQueue=batch_stack.queue, jobStatus=s)["jobSummaryList"]
        if j["jobName"].startswith("flowlib-AnyImageFlow-")]
    job = jobs.describe_jobs(jobs=[described[0]["jobId"]])["jobs"][0]
    definition = jobs.describe_job_definitions(
        jobDefinitions=[job["jobDefinition"]])["jobDefinitions"][0]
    assert definition["containerProperties"]["image"] == default_image()
