"""Misconfigured AWS profiles: each a clear message, a non-zero exit, nothing half-written."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import botocore.exceptions
import pytest

from flowlib.config import effective_profile
from flowlib.config.aws import AwsContext
from flowlib.exceptions import FlowlibError
from tests.aws.conftest import FLOWS
from tests.support.moto_server import create_bucket


def _run(aws, env_changes: dict[str, str | None], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **aws.env}
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, str(FLOWS / "small_flow.py"), *(args or ("run",))],
        cwd=aws.workdir, env=env, capture_output=True, text=True, timeout=120,
    )


def _assert_nothing_written(aws) -> None:
    items = aws.stack.client("dynamodb").scan(TableName=aws.table)["Items"]
    assert items == []
    listed = aws.stack.client("s3").list_objects_v2(Bucket=aws.stack.bucket, Prefix=aws.prefix)
    assert listed.get("KeyCount", 0) == 0


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def test_no_credentials(aws):
    proc = _run(aws, {
        "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
    })
    err = _one_line_error(proc)
    assert "No AWS credentials found for flowlib profile 'aws-test'" in err
    _assert_nothing_written(aws)


def test_bucket_missing(aws):
    proc = _run(aws, {"FLOWLIB_S3_BUCKET": "no-such-flowlib-bucket"})
    err = _one_line_error(proc)
    assert "S3 bucket 'no-such-flowlib-bucket' does not exist" in err
    assert "env:FLOWLIB_S3_BUCKET" in err  # says where the wrong value came from
    _assert_nothing_written(aws)


def test_table_missing(aws):
    proc = _run(aws, {"FLOWLIB_DYNAMODB_TABLE": "no-such-table"})
    err = _one_line_error(proc)
    assert "DynamoDB table 'no-such-table' does not exist in region us-east-1" in err
    _assert_nothing_written(aws)


def test_table_missing_in_the_client(aws, monkeypatch):
    from flowlib import Flow
    from flowlib.stores import reset_stores

    monkeypatch.setenv("FLOWLIB_DYNAMODB_TABLE", "no-such-table")
    reset_stores()
    with pytest.raises(FlowlibError, match="DynamoDB table 'no-such-table' does not exist"):
        Flow("SmallFlow")


def test_region_mismatch(aws):
    west = f"flowlib-west-{uuid.uuid4().hex[:8]}"
    create_bucket(aws.stack.env, west, region="us-west-2")
    proc = _run(aws, {"FLOWLIB_S3_BUCKET": west})
    err = _one_line_error(proc)
    assert f"S3 bucket '{west}' is in region us-west-2" in err
    assert "uses region us-east-1" in err
    _assert_nothing_written(aws)


def test_invalid_profile_key_fails_before_anything(aws, tmp_path):
    config = tmp_path / "bad.json"
    config.write_text('{"schema_version": 1, "profiles": {"p": {"datastore": "s3", '
                      '"s3_bucket": "b", "regoin": "us-east-1"}}}')
    proc = _run(aws, {"FLOWLIB_CONFIG": str(config), "FLOWLIB_PROFILE": "p"})
    err = _one_line_error(proc)
    assert "Unknown key 'regoin' in profile 'p'" in err and "did you mean 'region'" in err


def test_access_denied_and_credential_errors_are_translated(aws):
    ctx = AwsContext(effective_profile())

    def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
        return botocore.exceptions.ClientError(
            {"Error": {"Code": code, "Message": "User arn:x is not authorized"},
             "ResponseMetadata": {"HTTPStatusCode": status}}, "PutItem")

    denied = ctx.wrap(client_error("AccessDeniedException", 400), "dynamodb:PutItem", "table t")
    assert "Access denied: dynamodb:PutItem on table t" in str(denied)
    expired = ctx.wrap(client_error("ExpiredTokenException", 400), "dynamodb:Query", "table t")
    assert "were rejected (ExpiredTokenException)" in str(expired)
    moved = ctx.wrap(client_error("PermanentRedirect", 301), "s3:GetObject", "s3://b/k")
    assert "is in another region but flowlib profile 'aws-test' uses region us-east-1" in str(
        moved)
