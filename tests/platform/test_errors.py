"""The errors a user will hit, each one clear message on stderr with a non-zero exit and never
a traceback, and nothing already provisioned lost. None of these needs an apply: they stop
in preflight, in the state bootstrap, or before Terraform changes anything.

AWS is a moto server (a local test double, not AWS); an expired-credentials answer, which
moto cannot give, comes from a ten-line STS stand-in below.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.platform.conftest import (
    ACCOUNT,
    MOTO_SETS,
    REGION,
    STATE_BUCKET,
    Platform,
    assert_clean_error,
    base_env,
    brought_state_bucket,
)
from tests.support.aws_env import aws_env, boto3_client


@pytest.fixture
def platform(moto_server: Any, tf_mirror: Path, moto_stack_dir: Path, tmp_path: Path
             ) -> Iterator[Platform]:
    moto_server.reset()
    env = base_env(tmp_path, moto_server.url, tf_mirror)
    env["PLATFORM_TERRAFORM_DIR"] = str(moto_stack_dir)
    yield Platform(env, tmp_path / "platform-home", Path(env["FLOWLIB_CONFIG"]), moto_server)


def save_record(platform: Platform, name: str, account: str = ACCOUNT) -> None:
    folder = platform.home / "envs" / name
    folder.mkdir(parents=True)
    (folder / "environment.json").write_text(json.dumps({
        "name": name, "account_id": account, "region": REGION, "state_bucket": STATE_BUCKET,
        "state_key": f"flowlib/{name}/terraform.tfstate", "last_status": "ready"}))


def nothing_created(platform: Platform) -> None:
    assert platform.client("s3").list_buckets()["Buckets"] == []
    assert platform.client("dynamodb").list_tables()["TableNames"] == []


def test_no_credentials(tmp_path: Path, tf_mirror: Path) -> None:
    env = base_env(tmp_path, None, tf_mirror)
    env.update({"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": REGION})
    p = Platform(env, tmp_path / "home", tmp_path / "config.json")
    result = p.run("init", "dev", "--yes")
    assert_clean_error(result, "No AWS credentials found", "AWS_PROFILE")


class _ExpiredSts(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = (b"<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>"
                b"The security token included in the request is expired</Message></Error>"
                b"<RequestId>1</RequestId></ErrorResponse>")
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_expired_credentials(tmp_path: Path, tf_mirror: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _ExpiredSts)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = base_env(tmp_path, f"http://127.0.0.1:{server.server_port}", tf_mirror)
        result = Platform(env, tmp_path / "home", tmp_path / "c.json").run("init", "dev", "-y")
    finally:
        server.shutdown()
    assert_clean_error(result, "expired", "aws sso login")


def test_wrong_account_credentials(platform: Platform) -> None:
    save_record(platform, "dev", account="111111111111")
    for args in (["init", "dev", "--yes"], ["doctor", "dev"], ["status", "dev"]):
        result = platform.run(*args)
        assert_clean_error(result, f"account {ACCOUNT}", "lives in account 111111111111")
    nothing_created(platform)


def test_terraform_missing(platform: Platform, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = platform.run("init", "dev", "--yes", env={"PATH": str(empty)})
    assert_clean_error(result, "Terraform is not installed", "install Terraform")
    nothing_created(platform)


def test_terraform_too_old(platform: Platform, tmp_path: Path) -> None:
    fake = tmp_path / "old-bin"
    fake.mkdir()
    script = fake / "terraform"
    script.write_text("#!/bin/sh\necho '{\"terraform_version\": \"1.4.6\"}'\n")
    script.chmod(0o755)
    result = platform.run("init", "dev", "--yes", env={"PATH": f"{fake}:/usr/bin:/bin"})
    assert_clean_error(result, "Terraform 1.4.6 is too old", ">= 1.5.0")
    nothing_created(platform)


def test_state_bucket_name_taken_by_another_account(platform: Platform) -> None:
    assert platform.moto is not None
    sts = boto3_client("sts", platform.moto.url, REGION)
    creds = sts.assume_role(RoleArn="arn:aws:iam::111111111111:role/other",
                            RoleSessionName="other")["Credentials"]
    import boto3

    other = boto3.client("s3", endpoint_url=platform.moto.url, region_name=REGION,
                         aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"])
    other.create_bucket(Bucket=STATE_BUCKET)
    result = platform.run("init", "dev", "--yes")
    assert_clean_error(result, f"{STATE_BUCKET} is already taken by another AWS account",
                       "PLATFORM_STATE_BUCKET")
    # Theirs is untouched, and nothing of ours was created.
    assert "TagSet" not in _tags(other, STATE_BUCKET)
    assert platform.client("s3").list_buckets()["Buckets"] == []
    assert platform.client("dynamodb").list_tables()["TableNames"] == []


def _tags(s3: Any, bucket: str) -> dict[str, Any]:
    try:
        return s3.get_bucket_tagging(Bucket=bucket)
    except Exception:  # noqa: BLE001 - NoSuchTagSet
        return {}


def test_state_locked_by_another_run(platform: Platform) -> None:
    brought_state_bucket(platform)
    lock = {"ID": "0d9c1c7e-4c55-8d3b-2f61-6f4b8e3a9a10", "Operation": "OperationTypeApply",
            "Info": "", "Who": "alice@ml-laptop", "Version": "1.11.4",
            "Created": "2026-11-26T07:58:12.123456Z",
            "Path": f"{STATE_BUCKET}/flowlib/dev/terraform.tfstate"}
    platform.client("s3").put_object(Bucket=STATE_BUCKET,
                                     Key="flowlib/dev/terraform.tfstate.tflock",
                                     Body=json.dumps(lock).encode())
    result = platform.run("init", "dev", "--yes", *MOTO_SETS)
    assert_clean_error(result, "locked by alice@ml-laptop since 2026-11-26T07:58:12",
                       "platform force-unlock dev 0d9c1c7e-4c55-8d3b-2f61-6f4b8e3a9a10")
    # The lock and the (absent) state are untouched.
    keys = [o["Key"] for o in platform.client("s3").list_objects_v2(
        Bucket=STATE_BUCKET)["Contents"]]
    assert "flowlib/dev/terraform.tfstate.tflock" in keys
    assert "flowlib/dev/terraform.tfstate" not in keys


def test_terraform_lock_message_is_parsed() -> None:
    """When Terraform itself meets the lock (a run that started in between), its message is
    turned into the same one-line error."""
    from platform_cli.terraform_runner import TerraformRunner

    text = """
Error: Error acquiring the state lock

Error message: operation error S3: PutObject, https response error StatusCode: 412
Lock Info:
  ID:        5f1c2a9e-1111-2222-3333-444455556666
  Path:      flowlib-tfstate-123456789012-us-east-1/flowlib/ml-prod/terraform.tfstate
  Operation: OperationTypePlan
  Who:       bob@ci-runner
  Version:   1.11.4
  Created:   2026-11-26 08:01:02.345 +0000 UTC
  Info:
"""
    error = TerraformRunner._error(object(), "terraform plan", "", text)  # type: ignore[arg-type]
    assert "locked by bob@ci-runner since 2026-11-26 08:01:02" in error.message
    assert "platform force-unlock ml-prod 5f1c2a9e-1111-2222-3333-444455556666" in error.hint


def test_unknown_environment(platform: Platform) -> None:
    for args in (["status", "nope"], ["doctor", "nope"], ["destroy", "nope", "--yes"],
                 ["plan", "nope"], ["apply", "nope", "--yes"], ["env", "show", "nope"]):
        result = platform.run(*args)
        assert_clean_error(result, "Unknown environment 'nope'", "platform init nope")


@pytest.mark.parametrize("name", ["Dev", "my_env", "x", "a-name-that-is-far-too-long",
                                  "local", "9lives"])
def test_invalid_environment_name(platform: Platform, name: str) -> None:
    result = platform.run("init", name, "--yes")
    assert_clean_error(result)
    assert "Invalid environment name" in result.stderr or "reserved" in result.stderr


def test_corrupt_profile_file(platform: Platform) -> None:
    platform.config.parent.mkdir(parents=True, exist_ok=True)
    corrupt = '{"schema_version": 1, "profiles": {"team": {"datastore": "s3",'
    platform.config.write_text(corrupt)
    result = platform.run("init", "dev", "--yes")
    assert_clean_error(result, str(platform.config), "not valid JSON")
    for args in (["env", "use", "dev"], ["env", "export", "dev"]):
        assert_clean_error(platform.run(*args), "not valid JSON")
    # Nothing lost, nothing provisioned.
    assert platform.config.read_text() == corrupt
    nothing_created(platform)


def test_import_rejects_a_corrupt_file(platform: Platform, tmp_path: Path) -> None:
    bad = tmp_path / "from-ops.json"
    bad.write_text('{"schema_version": 1, "profiles": {"dev": {"datastor": "s3"}}}')
    result = platform.run("configure", "import", str(bad))
    assert_clean_error(result, "Unknown key 'datastor'", "did you mean 'datastore'")
    assert not platform.config.exists()


def test_prod_destroy_always_asks_for_the_name(platform: Platform) -> None:
    brought_state_bucket(platform)
    save_record(platform, "ml-prod")
    result = platform.run("destroy", "ml-prod", "--yes", input="yes\n")
    assert_clean_error(result, "the name did not match")
    assert "Type the environment's name (ml-prod)" in result.stderr


def test_bootstrap_makes_a_secure_state_bucket_once(platform: Platform,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_cli import state_backend

    assert platform.moto is not None
    for key, value in aws_env(platform.moto.url, REGION).items():
        monkeypatch.setenv(key, value)
    first = state_backend.bootstrap(ACCOUNT, REGION, use_lockfile=True)
    assert first.created and first.bucket == STATE_BUCKET and first.lock_table is None
    s3 = platform.client("s3")
    assert s3.get_bucket_versioning(Bucket=STATE_BUCKET)["Status"] == "Enabled"
    assert s3.get_bucket_encryption(Bucket=STATE_BUCKET)["ServerSideEncryptionConfiguration"]
    block = s3.get_public_access_block(Bucket=STATE_BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    policy = json.loads(s3.get_bucket_policy(Bucket=STATE_BUCKET)["Policy"])
    deny = policy["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}}
    again = state_backend.bootstrap(ACCOUNT, REGION, use_lockfile=True)
    assert not again.created and again.notes == []
    # Terraform older than 1.10: a DynamoDB lock table instead of S3-native locking.
    older = state_backend.bootstrap(ACCOUNT, REGION, use_lockfile=False)
    table = platform.client("dynamodb").describe_table(TableName=older.lock_table)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    config = state_backend.backend_config(STATE_BUCKET, "flowlib/dev/terraform.tfstate", REGION,
                                          older.lock_table)
    assert config["dynamodb_table"] == "flowlib-tfstate-lock" and "use_lockfile" not in config
