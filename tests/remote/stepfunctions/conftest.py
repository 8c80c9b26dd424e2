"""Fixtures of the Step Functions tests: one moto server for the whole suite, whose Step
Functions interpreter really executes state machines and whose Batch backend really runs the
jobs they submit (as local processes, through tests/support/fake_docker.py).

Test doubles, not AWS: moto plays Step Functions, Batch, S3, DynamoDB, IAM and EventBridge
Scheduler. Two gaps of moto's Batch integration are patched inside the moto server process
only, by tests/support/sfn_moto/sitecustomize.py (see its docstring); the product's state
machines are written exactly as for AWS. Each test gets a fresh metadata table and S3 prefix.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.remote.batch.conftest import IMAGE, BatchStack, start_batch_stack
from tests.support.backends import Backend
from tests.support.moto_server import write_config

REPO = Path(__file__).resolve().parents[3]
PATCHES = REPO / "tests" / "support" / "sfn_moto"


@pytest.fixture(scope="session")
def sfn_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BatchStack]:
    pytest.importorskip("docker", reason="moto's Batch backend needs the docker SDK")
    path = os.pathsep.join(p for p in (str(PATCHES), os.environ.get("PYTHONPATH")) if p)
    stack = start_batch_stack(tmp_path_factory.mktemp("moto-sfn") / "moto.log",
                              server_env={"PYTHONPATH": path})
    stack.stack.server.configure({"stepfunctions": {"execute_state_machine": True}})
    iam = stack.client("iam")
    stack.sfn_role = iam.create_role(  # type: ignore[attr-defined]
        RoleName="flowlib-test-sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    stack.scheduler_role = iam.create_role(  # type: ignore[attr-defined]
        RoleName="flowlib-test-scheduler", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    try:
        yield stack
    finally:
        stack.stack.server.stop()
        stack.docker.stop()


@pytest.fixture
def sfn_backend(sfn_stack: BatchStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[Backend]:
    """An AWS profile (S3 + DynamoDB on moto) with the queue, image and the two roles."""
    stack = sfn_stack.stack
    table = stack.create_table()
    prefix = f"tests/{uuid.uuid4().hex[:12]}"
    profile = stack.profile(table, prefix, batch_job_queue=sfn_stack.queue, image=IMAGE,
                            batch_host_cache=sfn_stack.docker.host_cache,
                            sfn_role_arn=sfn_stack.sfn_role,  # type: ignore[attr-defined]
                            scheduler_role_arn=sfn_stack.scheduler_role,  # type: ignore
                            environment=f"t{uuid.uuid4().hex[:6]}")
    config = write_config(tmp_path / "flowlib-config.json", {"sfn-test": profile})
    env = {**stack.env, "FLOWLIB_CONFIG": str(config), "FLOWLIB_PROFILE": "sfn-test"}
    backend = Backend("aws-sfn", tmp_path, env, "subprocess")
    backend.table = table  # type: ignore[attr-defined]
    backend.activate(monkeypatch)
    monkeypatch.delenv("FLOWLIB_DATASTORE_ROOT", raising=False)
    yield backend
    from flowlib.stores import reset_stores

    reset_stores()
    stack.delete_table(table)
