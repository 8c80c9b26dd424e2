"""Fixtures of the AWS Batch tests: one moto server whose Batch backend really runs jobs.

Test doubles, not AWS: moto plays Batch, S3, DynamoDB and CloudWatch Logs; moto drives each
job through the docker SDK, which talks to :class:`tests.support.fake_docker.FakeDockerServer`,
which runs the container's command as a local process (this checkout is the "image"). So the
submit, the state transitions, the command, its environment and the CloudWatch log path are
the real ones; image pulls, isolation and EC2 capacity are not exercised.

One server, one compute environment and one queue for the whole session (creating them costs
seconds); each test gets a fresh metadata table and S3 prefix, like ``tests/aws``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_env import MotoServer, aws_env
from tests.support.backends import Backend
from tests.support.moto_server import BUCKET, REGION, MotoStack, create_bucket, write_config

pytest.importorskip("docker", reason="moto's Batch backend needs the docker SDK")

REPO = Path(__file__).resolve().parents[3]
FLOWS = REPO / "tests" / "flows" / "remote"
QUEUE = "flowlib-test-queue"
IMAGE = "flowlib-runtime:test"


@dataclass
class BatchStack:
    stack: MotoStack
    docker: Any  # FakeDockerServer
    queue: str
    queue_arn: str
    service_role: str

    def client(self, service: str) -> Any:
        return self.stack.client(service)


def start_batch_stack(log_path: Path | None = None,
                      server_env: dict[str, str] | None = None) -> BatchStack:
    from tests.support.fake_docker import FakeDockerServer

    docker = FakeDockerServer().start()
    server = MotoServer(mode="process", env={"DOCKER_HOST": docker.docker_host,
                                             **(server_env or {})},
                        log_path=log_path)
    server.start()
    env = aws_env(server.url, REGION)
    # What a container gets from its host and job role: the endpoint, credentials, and this
    # checkout as the image's flowlib. Nothing flowlib-specific: that comes from the job.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWLIB_", "AWS_"))}
    base.update(env)
    base["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), base.get("PYTHONPATH")) if p)
    docker.base_env = base
    key_arn = create_bucket(env, BUCKET)
    stack = MotoStack(server, env, BUCKET, key_arn)
    iam, batch = stack.client("iam"), stack.client("batch")
    role = iam.create_role(RoleName="flowlib-test-batch-service",
                           AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ce = batch.create_compute_environment(
        computeEnvironmentName="flowlib-test-ce", type="UNMANAGED", state="ENABLED",
        serviceRole=role)["computeEnvironmentArn"]
    queue_arn = batch.create_job_queue(
        jobQueueName=QUEUE, state="ENABLED", priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])["jobQueueArn"]
    return BatchStack(stack, docker, QUEUE, queue_arn, role)


@pytest.fixture(scope="session")
def batch_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BatchStack]:
    stack = start_batch_stack(tmp_path_factory.mktemp("moto-batch") / "moto.log")
    try:
        yield stack
    finally:
        stack.stack.server.stop()
        stack.docker.stop()


@pytest.fixture
def batch_backend(batch_stack: BatchStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                  ) -> Iterator[Backend]:
    """The AWS profile (S3 + DynamoDB on moto) with the Batch queue and image as defaults."""
    stack = batch_stack.stack
    table = stack.create_table()
    prefix = f"tests/{uuid.uuid4().hex[:12]}"
    profile = stack.profile(table, prefix, batch_job_queue=batch_stack.queue, image=IMAGE,
                            batch_host_cache=batch_stack.docker.host_cache)
    config = write_config(tmp_path / "flowlib-config.json", {"batch-test": profile})
    env = {**stack.env, "FLOWLIB_CONFIG": str(config), "FLOWLIB_PROFILE": "batch-test"}
    backend = Backend("aws-batch", tmp_path, env, "subprocess")
    backend.table = table  # type: ignore[attr-defined]
    backend.activate(monkeypatch)
    monkeypatch.delenv("FLOWLIB_DATASTORE_ROOT", raising=False)
    yield backend
    from flowlib.stores import reset_stores

    reset_stores()
    stack.delete_table(table)


def run_flow(backend: Backend, flow: str | Path, *args: str, **kwargs: Any) -> Any:
    """``python <flow> <args>`` with the backend's environment (remote flows by bare name)."""
    path = Path(flow)
    if not path.is_absolute() and (FLOWS / path).exists():
        path = FLOWS / path
    return backend.run(path, *args, **kwargs)


__all__ = ["BatchStack", "batch_stack", "batch_backend", "run_flow"]
