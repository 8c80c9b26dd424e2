"""Fixtures for the ``platform`` CLI tests.

The AWS here is a moto server: a local test double of AWS, not AWS. It accepts the calls the
stack and the CLI make, but enforces no IAM policy and runs nothing on Batch. The CLI runs as
a real subprocess (``python -m platform_cli.main``), with the real Terraform binary and the
offline provider mirror, exactly as a user would run it; everything specific to moto is given
from outside the CLI, through settings any user has:

* ``PLATFORM_TERRAFORM_DIR``: a copy of terraform/ with ``*_override.tf`` files for two moto
  gaps (see ``MOTO_OVERRIDES``); the modules themselves are not touched;
* ``PLATFORM_BACKEND_CONFIG_EXTRA``: path-style S3 addressing for the backend;
* ``--set``: root variables moto cannot serve (the same as tests/terraform's CI tfvars).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_env import (
    MotoServer,
    aws_env,
    boto3_client,
    find_provider_mirror,
    terraform_binary,
    terraform_env,
)
from tests.terraform.helpers import copy_terraform_tree, require_tool

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
STATE_BUCKET = f"flowlib-tfstate-{ACCOUNT}-{REGION}"

# Root variables for sub-features moto cannot serve (see terraform/README.md, "Tested against
# moto"); the dev environment has EKS off, so only these two apply.
MOTO_SETS = [
    "--set", "s3_noncurrent_versions_to_keep=null",
    "--set", "batch_job_state_time_limit_actions={}",
]

# moto gaps worked around in the test's copy of the stack only:
# * moto echoes a launch template's own tags back as a tag specification (perpetual diff);
# * moto evaluates bucket policies without their conditions, so the artifact bucket's
#   TLS-only / SSE-KMS-only Deny statements deny every object read and write. The copy swaps
#   the policy for a harmless one; tests/terraform checks the real policy's content.
MOTO_OVERRIDES = {
    # moto stores a bucket's EventBridgeConfiguration but leaves it out of
    # GetBucketNotificationConfiguration (a perpetual diff otherwise).
    "modules/events/moto_override.tf": """
resource "aws_s3_bucket_notification" "this" {
  lifecycle {
    ignore_changes = [eventbridge]
  }
}
""",
    "modules/batch/moto_override.tf": """
resource "aws_launch_template" "this" {
  lifecycle {
    ignore_changes = [tag_specifications]
  }
}
""",
    "modules/artifacts/moto_override.tf": """
resource "aws_s3_bucket_policy" "this" {
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "MotoEvaluatesNoPolicyConditions"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::123456789012:root" }
      Action    = "s3:GetBucketPolicy"
      Resource  = aws_s3_bucket.this.arn
    }]
  })
}
""",
}


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Platform:
    """Runs ``platform`` in a subprocess with an environment of its own."""

    env: dict[str, str]
    home: Path
    config: Path
    moto: MotoServer | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def run(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 900, cwd: Path | None = None) -> Result:
        import time

        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "platform_cli.main", *args], env={**self.env, **(env or {})},
            input=input if input is not None else "", capture_output=True, text=True,
            timeout=timeout, cwd=cwd or REPO,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)

    def client(self, service: str) -> Any:
        assert self.moto is not None
        return boto3_client(service, self.moto.url, REGION)

    def profiles(self) -> dict[str, Any]:
        if not self.config.exists():
            return {}
        return json.loads(self.config.read_text())


def assert_clean_error(result: Result, *needles: str) -> None:
    """One clear message on stderr, a non-zero exit, never a traceback."""
    assert result.code != 0, result.text
    assert "Traceback" not in result.text, result.text
    assert result.stderr.count("platform: error: ") == 1, result.stderr
    tail = result.stderr.split("platform: error:", 1)[1].splitlines()
    assert all(line.startswith("  hint: ") for line in tail[1:] if line), result.stderr
    for needle in needles:
        assert needle in result.stderr, f"{needle!r} not in: {result.stderr}"


@pytest.fixture(scope="session")
def tf_mirror() -> Path:
    require_tool(terraform_binary(), "terraform", "see terraform/README.md")
    mirror = find_provider_mirror()
    return Path(require_tool(mirror, "a Terraform provider mirror with hashicorp/aws",
                             "offline"))


@pytest.fixture(scope="session")
def moto_stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    stack = copy_terraform_tree(tmp_path_factory.mktemp("platform-stack") / "terraform")
    for relative, text in MOTO_OVERRIDES.items():
        (stack / relative).write_text(text)
    return stack


def base_env(tmp: Path, moto_url: str | None, tf_mirror: Path | None) -> dict[str, str]:
    """An environment with no trace of the developer's own AWS or flowlib settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "FLOWLIB_", "PLATFORM_", "TF_"))}
    if tf_mirror is not None:
        env = {**env, **{k: v for k, v in terraform_env(tmp / "tf-cli", mirror=tf_mirror).items()
                         if k.startswith("TF_")}}
    if moto_url:
        env.update(aws_env(moto_url, REGION))
    env.update({
        "PLATFORM_HOME": str(tmp / "platform-home"),
        "FLOWLIB_CONFIG": str(tmp / "flowlib" / "config.json"),
        "PLATFORM_BACKEND_CONFIG_EXTRA":
            "use_path_style=true,skip_credentials_validation=true,skip_requesting_account_id=true",
        "PYTHONPATH": str(REPO),
    })
    return env


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    from tests.support.fake_docker import FakeDockerServer

    log = tmp_path_factory.mktemp("moto") / "moto.log"
    # moto's Batch runs the jobs a test submits through the Docker Engine API test server
    # (test_e2e: a flow on the new stack's queue); tests set ``server.docker.base_env``.
    docker = FakeDockerServer(base_env={}).start()
    server = MotoServer(mode="process", env={"MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
                                             "DOCKER_HOST": docker.docker_host},
                        log_path=log, startup_timeout=120)
    server.start()
    server.docker = docker  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
        docker.stop()


def brought_state_bucket(platform: Platform) -> None:
    """The state bucket, brought by the "organisation" (versioned, encrypted, private, no
    bucket policy): moto would deny Terraform's state reads and writes under the TLS-only
    policy ``platform`` puts on a bucket it creates (see the module docstring).
    test_errors_fast.py checks that policy on a bucket ``platform`` creates itself."""
    s3 = platform.client("s3")
    s3.create_bucket(Bucket=STATE_BUCKET)
    s3.put_bucket_versioning(Bucket=STATE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=STATE_BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_public_access_block(Bucket=STATE_BUCKET, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
