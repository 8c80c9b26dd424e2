"""The task role's @secrets policy, as Terraform renders it: read the environment's prefix
only (Secrets Manager ``flowlib/<env>/*``, Parameter Store ``/flowlib/<env>/*``), decrypt with
the environment's key only through those services; and the root stack wires the prefix and
the key that ``platform secrets set`` uses.

The iam module is planned alone (a root of one module call) against the session's moto
server: ``aws_iam_policy_document`` is rendered by the AWS provider at plan time, so the JSON
checked here is the JSON IAM would receive. The policy is then evaluated on source ARNs with
IAM's wildcard rule (``*`` matches any characters, ``/`` included): moto does not scope
Secrets Manager or SSM permissions by resource, so AWS's own evaluation is not available here.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_env import aws_env, run_terraform, terraform_env
from tests.terraform.helpers import TERRAFORM_DIR, copy_terraform_tree, load_config

ACCOUNT = "123456789012"  # moto's account
REGION = "us-east-1"
SECRETS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/secrets-key"

ROOT = """
provider "aws" {
  region = "us-east-1"
}

module "iam" {
  source = "./terraform/modules/iam"

  name               = "flowlib-sectest"
  s3_bucket_arn      = "arn:aws:s3:::flowlib-sectest-artifacts"
  s3_prefix          = "flowlib"
  dynamodb_table_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/flowlib-sectest"
  kms_key_arns       = ["arn:aws:kms:us-east-1:123456789012:key/data-key"]

  secrets_prefix      = "flowlib/sectest"
  secrets_kms_key_arn = "SECRETS_KEY"

  create_batch_roles = false
  create_eks_roles   = false
}
""".replace("SECRETS_KEY", SECRETS_KEY)


@pytest.fixture(scope="module")
def secrets_policy(terraform: str, provider_mirror: Path, moto_stack: Any,
                   tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("tf-secrets-policy")
    copy_terraform_tree(base / "terraform")
    (base / "main.tf").write_text(ROOT)
    env = terraform_env(base / "cli", mirror=provider_mirror, extra=aws_env(moto_stack.url))
    run_terraform(["init", "-input=false"], base, env, timeout=600)
    run_terraform(["plan", "-input=false", "-out=plan.tfplan"], base, env, timeout=600)
    plan = json.loads(run_terraform(["show", "-json", "plan.tfplan"], base, env).stdout)
    changes = {c["address"]: c["change"]["after"] for c in plan["resource_changes"]}
    policy = changes["module.iam.aws_iam_role_policy.task_secrets[0]"]
    assert policy["name"] == "flowlib-secrets"
    return json.loads(policy["policy"])


def _allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [
            statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [
            statement["Resource"]]
        if statement["Effect"] == "Allow" and action in actions and any(
                fnmatch.fnmatchcase(resource, pattern) for pattern in resources):
            return True
    return False


def test_task_role_reads_its_environment_prefix_only(secrets_policy):
    statements = {s["Sid"]: s for s in secrets_policy["Statement"]}
    assert set(statements) == {"ReadEnvironmentSecrets", "ReadEnvironmentParameters",
                               "DecryptEnvironmentSecrets"}
    assert statements["ReadEnvironmentSecrets"]["Resource"] == (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:flowlib/sectest/*")
    assert statements["ReadEnvironmentParameters"]["Resource"] == (
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/flowlib/sectest/*")
    decrypt = statements["DecryptEnvironmentSecrets"]
    assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == SECRETS_KEY
    assert sorted(decrypt["Condition"]["StringEquals"]["kms:ViaService"]) == [
        f"secretsmanager.{REGION}.amazonaws.com", f"ssm.{REGION}.amazonaws.com"]
    # No wildcard action and no statement reaching beyond this environment.
    for statement in secrets_policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [
            statement["Action"]]
        assert not any(a.endswith("*") for a in actions)
        assert statement["Resource"] != "*"


@pytest.mark.parametrize("action, resource, allowed", [
    ("secretsmanager:GetSecretValue",
     f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:flowlib/sectest/warehouse-AbCdEf", True),
    ("secretsmanager:GetSecretValue",
     f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:flowlib/sectest/team/db-AbCdEf", True),
    ("secretsmanager:GetSecretValue",
     f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:flowlib/prod/warehouse-AbCdEf", False),
    ("secretsmanager:GetSecretValue",
     f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:flowlib/sectest2/x-AbCdEf", False),
    ("secretsmanager:GetSecretValue",
     f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:hub-token-AbCdEf", False),
    ("secretsmanager:PutSecretValue",
     f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:flowlib/sectest/warehouse-AbCdEf", False),
    ("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/flowlib/sectest/hub", True),
    ("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/flowlib/prod/hub", False),
    ("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/team/db/url", False),
    ("ssm:PutParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/flowlib/sectest/hub", False),
    ("kms:Decrypt", SECRETS_KEY, True),
    ("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/data-key", False),
])
def test_policy_decides_like_the_prefix_says(secrets_policy, action, resource, allowed):
    assert _allows(secrets_policy, action, resource) is allowed


def test_root_stack_wires_the_environment_prefix_and_the_profile_key():
    """The prefix is the one `platform secrets` writes under, and the key the one it encrypts
    with (the profile's s3_kms_key_arn comes from the same module output)."""
    root = load_config(TERRAFORM_DIR)
    (iam,) = [m["iam"] for m in root["module"] if "iam" in m]
    assert iam["secrets_prefix"] == "flowlib/${var.environment}"
    assert iam["secrets_kms_key_arn"] == "${module.artifacts.kms_key_arn}"
    (output,) = [o["flowlib_config"] for o in root["output"] if "flowlib_config" in o]
    assert "module.artifacts.kms_key_arn" in str(output["value"])
    from platform_cli.secrets import SecretsTarget

    target = SecretsTarget("dev", REGION, None)
    assert target.full_name("db", "secretsmanager") == "flowlib/dev/db"
    assert target.full_name("db", "ssm") == "/flowlib/dev/db"
