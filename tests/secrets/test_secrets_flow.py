"""@secrets and @environment end to end on this machine: secrets created with `platform
secrets set` in moto's Secrets Manager and Parameter Store, read by a flow's tasks (S3 +
DynamoDB stores on the same moto server), and found nowhere afterwards."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from flowlib import Run
from tests.support.backends import FLOWS, Backend
from tests.support.moto_server import aws_backend
from tests.support.secret_scan import (
    DB_URL,
    HUB_TOKEN,
    SECRET_VALUES,
    WAREHOUSE,
    Leftovers,
    add_secrets_profile,
    create_test_secrets,
    platform_secrets,
)

FLOW = FLOWS / "secrets" / "secrets_flow.py"
GUARDED = FLOWS / "secrets" / "guarded_flow.py"
END_SOURCES = "secrets:sources=[ssm:/flowlib/sectest/hub-token,flowlib/sectest/db-url]"


@pytest.fixture
def aws(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    backend = aws_backend(request, tmp_path)
    add_secrets_profile(Path(backend.env["FLOWLIB_CONFIG"]))
    backend.activate(monkeypatch)
    yield backend
    from flowlib.stores import reset_stores

    reset_stores()
    _delete_all_secrets(backend)


def _delete_all_secrets(backend: Backend) -> None:
    sm, ssm = backend.stack.client("secretsmanager"), backend.stack.client("ssm")
    for item in sm.list_secrets()["SecretList"]:
        sm.delete_secret(SecretId=item["ARN"], ForceDeleteWithoutRecovery=True)
    names = [p["Name"] for p in ssm.describe_parameters()["Parameters"]]
    if names:
        ssm.delete_parameters(Names=names)


def _sha(*values: str) -> str:
    return hashlib.sha256("|".join(values).encode()).hexdigest()


def test_flow_reads_secrets_and_leaves_no_value_behind(aws, tmp_path):
    create_test_secrets("sectest", tmp_path)
    proc = aws.run(FLOW, "run", "--with", END_SOURCES)
    run = Run("SecretsFlow/1")
    start, end = run["start"].task, run["end"].task
    assert start.data.start_digest == _sha(WAREHOUSE["DB_USER"], WAREHOUSE["DB_PASSWORD"])
    assert end.data.end_digest == _sha(HUB_TOKEN, DB_URL)
    assert start.data.port == "5432"
    assert start.data.plain == ("https://hub.example.com", "4")
    # Each task sees its own step's secrets only.
    assert not start.data.start_sees_token and not end.data.end_sees_password
    # Recorded with the task: variables and source *names*.
    assert start["_task_environment"].data == {
        "vars": {"MODEL_HUB_URL": "https://hub.example.com", "WORKERS": "4"},
        "secret_sources": ["flowlib/sectest/warehouse"]}
    assert end["_task_environment"].data["secret_sources"] == [
        "ssm:/flowlib/sectest/hub-token", "flowlib/sectest/db-url"]
    # Masked in the streamed and the stored logs.
    assert "connecting with password ****" in start.stdout
    assert "token=****" in end.stderr
    assert "connecting with password ****" in proc.stdout

    found = Leftovers()
    assert found.bucket(aws.stack.client("s3"), aws.stack.bucket, aws.prefix) > 5
    assert found.table(aws.stack.client("dynamodb"), aws.table) > 5
    found.folder(tmp_path)
    found.add("console", proc.stdout + proc.stderr)
    assert found.find(SECRET_VALUES) == []
    # The search does see stored strings: the digest artifact is found where it was saved.
    assert any(w.startswith("s3://") for w, _ in found.find([start.data.start_digest]))


def test_platform_secrets_list_shows_names_never_values(aws, tmp_path):
    create_test_secrets("sectest", tmp_path)
    result = platform_secrets(["list", "sectest", "--output", "json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["secrets"]
    assert [(s["name"], s["store"], s["source"]) for s in listed] == [
        ("db-url", "secretsmanager", "flowlib/sectest/db-url"),
        ("hub-token", "ssm", "ssm:/flowlib/sectest/hub-token"),
        ("warehouse", "secretsmanager", "flowlib/sectest/warehouse"),
    ]
    assert all(s["last_changed"] for s in listed)
    text = platform_secrets(["list", "sectest"]).output
    assert "hub-token" in text and not any(v in text for v in SECRET_VALUES)
    # Secrets Manager keeps what it holds encrypted with the environment's key.
    sm = aws.stack.client("secretsmanager")
    assert sm.describe_secret(SecretId="flowlib/sectest/warehouse")["KmsKeyId"] == \
        aws.stack.kms_key_arn
    # Update in place; delete removes it from the listing.
    assert platform_secrets(["set", "sectest", "db-url", "--value", "-"], "new").exit_code == 0
    assert sm.get_secret_value(SecretId="flowlib/sectest/db-url")["SecretString"] == "new"
    deleted = platform_secrets(["delete", "sectest", "hub-token", "--yes"])
    assert deleted.exit_code == 0, deleted.output
    names = [s["name"] for s in json.loads(platform_secrets(
        ["list", "sectest", "-o", "json"]).stdout)["secrets"]]
    assert names == ["db-url", "warehouse"]


@pytest.mark.parametrize("args, stdin, message", [
    (["set", "sectest", "x", "--value", "hunter2"], None, "--value takes only '-'"),
    (["set", "sectest", "x"], None, "exactly one of --from-file FILE or --value -"),
    (["set", "sectest", "x", "--value", "-"], '{"A": 1', "is not valid JSON"),
    (["set", "sectest", "x", "--value", "-"], '{"bad-key": "v"}', "not a valid environment"),
    (["set", "sectest", "/abs", "--value", "-"], "v", "Invalid secret name"),
    (["set", "nosuchenv", "x", "--value", "-"], "v", "No flowlib profile 'nosuchenv'"),
    (["delete", "sectest", "never-set", "--yes"], None, "No secret 'never-set'"),
])
def test_platform_secrets_bad_input(aws, args, stdin, message):
    result = platform_secrets(args, stdin)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert aws.stack.client("secretsmanager").list_secrets()["SecretList"] == []


def _failed_start(aws: Backend, *with_args: str) -> str:
    proc = aws.run(GUARDED, "run", *with_args, expect=1)
    assert "USER CODE RAN" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    error = Run("GuardedFlow/1")["start"].task.exception
    assert error is not None and error.type == "SecretSourceError"
    assert error.stacktrace == ""
    assert f"Task failed: SecretSourceError: {error.exception}" in proc.stderr
    return error.exception


def test_missing_source_fails_before_user_code(aws):
    message = _failed_start(aws, "--with", "secrets:sources=[flowlib/sectest/nope]")
    assert message.startswith("@secrets: Secrets Manager secret 'flowlib/sectest/nope' does "
                              "not exist")
    assert "platform secrets set" in message


def test_broken_json_fails_naming_the_source(aws):
    aws.stack.client("ssm").put_parameter(Name="/flowlib/sectest/cfg", Value='{"A": 1,',
                                          Type="SecureString")
    message = _failed_start(aws, "--with", "secrets:sources=[ssm:/flowlib/sectest/cfg]")
    assert "SSM parameter 'ssm:/flowlib/sectest/cfg'" in message
    assert "not valid JSON" in message


def test_two_sources_defining_one_variable(aws, tmp_path):
    create_test_secrets("sectest", tmp_path)
    sm = aws.stack.client("secretsmanager")
    sm.create_secret(Name="flowlib/sectest/other", SecretString=json.dumps({"DB_USER": "x"}))
    message = _failed_start(
        aws, "--with", "secrets:sources=[flowlib/sectest/warehouse,flowlib/sectest/other]")
    assert message.startswith("@secrets: variable DB_USER is defined by both "
                              "'flowlib/sectest/warehouse' and 'flowlib/sectest/other'")


def test_invalid_source_is_refused_before_the_run(aws):
    proc = aws.run(GUARDED, "run", "--with", "secrets:sources=[arn:aws:s3:::bucket/key]",
                   expect=1)
    assert "neither a Secrets Manager secret" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_source_the_task_may_not_read_names_the_missing_permission(tmp_path):
    """A moto server that enforces IAM (after its first three requests, the set-up): the
    task's identity, an IAM user without Secrets Manager permissions, gets moto's real
    AccessDeniedException; the attempt fails before user code, naming source and permission.
    (moto checks actions, not resource ARNs, for Secrets Manager: the prefix scoping itself is
    checked on the policy Terraform renders, tests/terraform/test_task_secrets_policy.py.)"""
    from tests.support.aws_env import MotoServer, aws_env, boto3_client
    from tests.support.backends import local_backend

    with MotoServer(mode="process", env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"},
                    log_path=tmp_path / "moto-auth.log") as server:
        iam = boto3_client("iam", server.url)
        iam.create_user(UserName="flowlib-task")
        key = iam.create_access_key(UserName="flowlib-task")["AccessKey"]
        boto3_client("secretsmanager", server.url).create_secret(
            Name="team/hub-token", SecretString="tok-not-for-flowlib")
        backend = local_backend(tmp_path)
        env = {**aws_env(server.url), "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
               "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
        proc = backend.run(GUARDED, "run", "--with", "secrets:sources=[team/hub-token]",
                           env=env, expect=1)
    assert "USER CODE RAN" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert ("SecretSourceError: @secrets: the task's AWS identity may not read Secrets Manager "
            "secret 'team/hub-token': secretsmanager:GetSecretValue is denied") in proc.stderr
    assert "flowlib/ENV/* in Secrets Manager" in proc.stderr
    assert "tok-not-for-flowlib" not in proc.stdout + proc.stderr
