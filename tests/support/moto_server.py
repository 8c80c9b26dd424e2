"""The AWS backend for flow tests: a moto server with the bucket and table the Terraform
modules provision, and a flowlib profile pointing at them.

* :func:`moto_stack` (session scoped, started once): a ``moto_server`` process on 127.0.0.1
  (server mode, so the flow subprocesses and their task subprocesses reach it), a KMS key and
  an artifact bucket set up like ``terraform/modules/artifacts`` (versioning, SSE-KMS default
  encryption with that key, public access block; the bucket policy: see below).
* :func:`aws_backend`: per test, a fresh metadata table created from
  ``flowlib/metadata/table_schema.json`` (what the Terraform metadata module reads) and a unique
  S3 prefix, written as profile ``aws-test`` in a config file of the test's own.

moto evaluates bucket policies without their conditions (a conditional Deny denies
everything) and serves plain HTTP, so the TLS-only and SSE-KMS policy is not applied to the
moto bucket; tests evaluate its conditions on the requests flowlib sends instead, and check the
SSE-KMS key on every stored object.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_env import MotoServer, aws_env, patched_environ
from tests.support.backends import Backend

REGION = "us-east-1"
BUCKET = "flowlib-test-artifacts"


@dataclass
class MotoStack:
    server: MotoServer
    env: dict[str, str]
    bucket: str
    kms_key_arn: str
    region: str = REGION

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, service: str, region: str | None = None) -> Any:
        import boto3

        with patched_environ(self.env):
            return boto3.client(service, region_name=region or self.region)

    def create_table(self, name: str | None = None) -> str:
        from flowlib.metadata.dynamodb import create_table_kwargs

        name = name or f"flowlib-test-{uuid.uuid4().hex[:12]}"
        self.client("dynamodb").create_table(**create_table_kwargs(name))
        return name

    def delete_table(self, name: str) -> None:
        try:
            self.client("dynamodb").delete_table(TableName=name)
        except Exception:  # noqa: BLE001 - best-effort cleanup
            pass

    def profile(self, table: str, prefix: str, **extra: Any) -> dict[str, Any]:
        return {
            "datastore": "s3", "s3_bucket": self.bucket, "s3_prefix": prefix,
            "s3_kms_key_arn": self.kms_key_arn, "metadata": "dynamodb",
            "dynamodb_table": table, "region": self.region, **extra,
        }


def bucket_policy(bucket: str, kms_key_arn: str) -> dict[str, Any]:
    arn = f"arn:aws:s3:::{bucket}"
    everyone = {"AWS": "*"}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": everyone,
             "Action": "s3:*", "Resource": [arn, f"{arn}/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "DenyNonKmsEncryption", "Effect": "Deny", "Principal": everyone,
             "Action": "s3:PutObject", "Resource": f"{arn}/*",
             "Condition": {"StringNotEqualsIfExists": {
                 "s3:x-amz-server-side-encryption": "aws:kms"}}},
            {"Sid": "DenyOtherKmsKeys", "Effect": "Deny", "Principal": everyone,
             "Action": "s3:PutObject", "Resource": f"{arn}/*",
             "Condition": {"StringNotEqualsIfExists": {
                 "s3:x-amz-server-side-encryption-aws-kms-key-id": kms_key_arn}}},
        ],
    }


def create_bucket(
    stack_env: dict[str, str], bucket: str, region: str = REGION, apply_policy: bool = False
) -> str:
    """A bucket set up like terraform/modules/artifacts; returns its KMS key ARN.

    The module's bucket policy (:func:`bucket_policy`) is not applied by default: moto ignores
    policy conditions, so its conditional Deny statements become "deny everything". Tests
    evaluate the policy's conditions against the requests flowlib sends instead
    (tests/aws/test_s3_store.py).
    """
    import boto3

    with patched_environ(stack_env):
        kms = boto3.client("kms", region_name=region)
        s3 = boto3.client("s3", region_name=region)
        key_arn = kms.create_key(Description=f"{bucket} SSE-KMS")["KeyMetadata"]["Arn"]
        extra = {} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **extra)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={"Rules": [{
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                "BucketKeyEnabled": True,
            }]},
        )
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True, "IgnorePublicAcls": True,
                "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
            },
        )
        if apply_policy:
            s3.put_bucket_policy(
                Bucket=bucket, Policy=json.dumps(bucket_policy(bucket, key_arn))
            )
    return key_arn


def start_stack(log_path: Path | None = None) -> MotoStack:
    server = MotoServer(mode="process", log_path=log_path)
    server.start()
    env = aws_env(server.url, REGION)
    key_arn = create_bucket(env, BUCKET)
    return MotoStack(server, env, BUCKET, key_arn)


@pytest.fixture(scope="session")
def moto_stack(tmp_path_factory: pytest.TempPathFactory):
    """One moto server for the whole session, with the artifact bucket."""
    stack = start_stack(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield stack
    finally:
        stack.server.stop()


def write_config(path: Path, profiles: dict[str, dict[str, Any]], default: str | None = None
                 ) -> Path:
    data: dict[str, Any] = {"schema_version": 1, "profiles": profiles}
    if default:
        data["default_profile"] = default
    path.write_text(json.dumps(data, indent=2))
    return path


def aws_backend(
    request: pytest.FixtureRequest, tmp_path: Path, launcher: str = "fork"
) -> Backend:
    """A Backend on a fresh table and a unique prefix of the session's moto bucket."""
    pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    stack: MotoStack = request.getfixturevalue("moto_stack")
    table = stack.create_table()
    request.addfinalizer(lambda: stack.delete_table(table))
    prefix = f"tests/{uuid.uuid4().hex[:12]}"
    config = write_config(tmp_path / "flowlib-config.json",
                          {"aws-test": stack.profile(table, prefix)})
    env = {
        **stack.env,
        "FLOWLIB_CONFIG": str(config),
        "FLOWLIB_PROFILE": "aws-test",
    }
    # A FLOWLIB_DATASTORE_ROOT inherited from the shell would be harmless, but keep it out.
    env.pop("FLOWLIB_DATASTORE_ROOT", None)
    backend = Backend("aws", tmp_path, env, launcher)
    backend.table = table  # type: ignore[attr-defined]
    backend.prefix = prefix  # type: ignore[attr-defined]
    backend.stack = stack  # type: ignore[attr-defined]
    return backend


def aws_available() -> bool:
    try:
        import boto3  # noqa: F401
        import moto  # noqa: F401
    except ImportError:
        return False
    return True


__all__ = ["MotoStack", "aws_backend", "moto_stack", "start_stack", "write_config",
           "create_bucket", "aws_available"]
