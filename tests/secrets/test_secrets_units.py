"""The pieces of @secrets/@environment that need no AWS: source names, the naming rule,
decorator arguments, --with parsing, masking, and the AccessDenied sentence."""

from __future__ import annotations

import io
import os

import pytest

from flowlib.decorators import parse_with_option
from flowlib.exceptions import FlowlibError
from flowlib.runtime.spec import TaskSpec
from flowlib.taskenv.apply import apply_task_environment, resolve_secrets
from flowlib.taskenv.decorators import EnvironmentDecorator, SecretsDecorator
from flowlib.taskenv.masking import Masker, MaskingStream
from flowlib.taskenv.sources import (
    PARAMETER_STORE,
    SECRETS_MANAGER,
    SecretSourceError,
    parse_source,
    single_variable_name,
    variables_from_value,
)


@pytest.mark.parametrize("text, service, ident, region", [
    ("flowlib/dev/warehouse", SECRETS_MANAGER, "flowlib/dev/warehouse", None),
    ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-token-AbCdEf", SECRETS_MANAGER,
     "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-token-AbCdEf", "eu-west-1"),
    ("ssm:/team/db/url", PARAMETER_STORE, "/team/db/url", None),
    ("arn:aws:ssm:us-east-2:123456789012:parameter/team/db", PARAMETER_STORE,
     "arn:aws:ssm:us-east-2:123456789012:parameter/team/db", "us-east-2"),
])
def test_source_names(text, service, ident, region):
    source = parse_source(text)
    assert (source.service, source.ident, source.region) == (service, ident, region)


@pytest.mark.parametrize("text", ["", " flowlib/x", "has space", "ssm:bad name",
                                  "arn:aws:s3:::bucket/key", 3])
def test_bad_source_names(text):
    with pytest.raises(FlowlibError):
        parse_source(text)


def test_naming_rule():
    assert single_variable_name("flowlib/dev/hub-token") == "HUB_TOKEN"
    assert single_variable_name("/team/db/url") == "URL"
    assert single_variable_name("flowlib/dev/2fa.seed") == "_2FA_SEED"
    assert variables_from_value('{"USER": "u", "PORT": 5432, "ON": true}', "x", "s") == {
        "USER": "u", "PORT": "5432", "ON": "true"}
    assert variables_from_value("plain {not json}", "flowlib/dev/db-url", "s") == {
        "DB_URL": "plain {not json}"}
    for bad, message in (('{"A": 1', "not valid JSON"), ("{}", "non-empty object"),
                         ('{"bad-key": 1}', "not a valid environment variable"),
                         ('{"AWS_ACCESS_KEY_ID": "x"}', "reserved")):
        with pytest.raises(FlowlibError, match=message):
            variables_from_value(bad, "x", "s")


def test_decorator_arguments():
    assert SecretsDecorator(sources="flowlib/dev/a").sources == ["flowlib/dev/a"]
    assert EnvironmentDecorator(vars={"A": 1, "B": False}).vars == {"A": "1", "B": "false"}
    with pytest.raises(FlowlibError, match="names a source twice"):
        SecretsDecorator(sources=["flowlib/dev/a", "flowlib/dev/a"])
    with pytest.raises(FlowlibError, match="must be a dict"):
        EnvironmentDecorator(vars=["A=1"])
    with pytest.raises(FlowlibError, match="reserved"):
        EnvironmentDecorator(vars={"FLOWLIB_PROFILE": "x"})
    with pytest.raises(FlowlibError, match="unknown argument"):
        SecretsDecorator(source=["a"])


def test_with_option_lists_and_dicts():
    bare = parse_with_option("secrets:sources=[flowlib/dev/a,ssm:/flowlib/dev/b]")
    assert bare.sources == ["flowlib/dev/a", "ssm:/flowlib/dev/b"]
    quoted = parse_with_option('secrets:sources=["flowlib/dev/a"]')
    assert quoted.sources == ["flowlib/dev/a"]
    env = parse_with_option('environment:vars={"A": "1", "B": "x,y"}')
    assert env.vars == {"A": "1", "B": "x,y"}
    assert parse_with_option("retry:times=2,minutes_between_retries=0").times == 2
    with pytest.raises(FlowlibError, match="not valid JSON"):
        parse_with_option("environment:vars={A: 1}")


def test_spec_carries_names_only_on_the_command_line():
    spec = TaskSpec("F", "1", "s", "2", 0, [], [], secret_sources=["ssm:/flowlib/dev/t"],
                    env_vars={"A": "1"})
    args = spec.command_args()
    assert args[-4:] == ["--secret-source", "ssm:/flowlib/dev/t", "--env-var", "A=1"]


def test_masking_stream_masks_whole_lines_and_multiline_values():
    target = io.StringIO()
    stream = MaskingStream(target, Masker(["s3cr3t-value", "-----BEGIN KEY-----\nabcdefgh\n",
                                           "ab"]))
    stream.write("the value is s3cr")  # held until the line is complete
    assert target.getvalue() == ""
    stream.write("3t-value!\nkey line abcdefgh\nab stays\n")
    stream.write("tail s3cr3t-value")
    stream.flush()
    assert target.getvalue() == ("the value is ****!\nkey line ****\nab stays\ntail ****")


class _Reader:
    def __init__(self, values):
        self.values = values

    def read(self, source):
        return self.values[source.text], source.ident


def test_resolve_and_apply_then_restore(monkeypatch):
    monkeypatch.delenv("DB_USER", raising=False)
    reader = _Reader({"flowlib/dev/a": '{"DB_USER": "admin-user"}', "ssm:/x/token": "tok-12345"})
    assert resolve_secrets(["flowlib/dev/a", "ssm:/x/token"], reader) == {
        "DB_USER": "admin-user", "TOKEN": "tok-12345"}
    with pytest.raises(SecretSourceError, match="@environment both define TOKEN"):
        apply_task_environment(["ssm:/x/token"], {"TOKEN": "x"}, reader)
    applied = apply_task_environment(["flowlib/dev/a"], {"MODE": "fast"}, reader)
    try:
        assert os.environ["DB_USER"] == "admin-user" and os.environ["MODE"] == "fast"
        assert applied.mask("user admin-user") == "user ****"
        assert applied.record() == {"vars": {"MODE": "fast"}, "secret_sources": ["flowlib/dev/a"]}
    finally:
        applied.restore()
    assert "DB_USER" not in os.environ


def test_access_denied_names_the_source_and_the_permission():
    """AWS's AccessDeniedException as botocore raises it (shape from the service model)."""
    import botocore.exceptions

    from flowlib.taskenv.fetch import SourceReader

    reader = SourceReader(region="us-east-1")
    denied = botocore.exceptions.ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "User: arn:aws:sts::1:assumed-"
                   "role/flowlib-dev-task/x is not authorized to perform: "
                   "secretsmanager:GetSecretValue on resource: team/hub"}},
        "GetSecretValue")
    message = reader._explain(parse_source("team/hub"), denied)
    assert "Secrets Manager secret 'team/hub'" in message
    assert "secretsmanager:GetSecretValue is denied" in message
    kms = botocore.exceptions.ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "not authorized to perform "
                   "kms:Decrypt"}}, "GetParameter")
    message = reader._explain(parse_source("ssm:/flowlib/dev/x"), kms)
    assert "SSM parameter 'ssm:/flowlib/dev/x'" in message and "kms:Decrypt is denied" in message


def test_catch_fallback_reads_no_secret():
    """@catch's fallback runs no user code: a missing secret must not stop it."""
    from flowlib.runtime.task import _start_environment

    spec = TaskSpec("F", "1", "s", "2", 1, [], [], caught_error={"type": "X"},
                    secret_sources=["flowlib/dev/missing"])
    assert _start_environment(None, spec) is None  # type: ignore[arg-type]
