"""The bucket policy and the task roles' policies, evaluated request by request.

The task-role policies are the JSON Terraform itself renders (a plan of the iam module, once for
the shared prefix and once for an isolated project, against a moto server for the account id);
the bucket policy is read from modules/artifacts with python-hcl2 (its bucket ARN is known only
after apply). ``iam_eval`` decides each request with AWS's documented evaluation rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.security.iam_eval import ALLOW, DENY, IMPLICIT_DENY, evaluate
from tests.support.aws_env import MotoServer, aws_env, run_terraform, terraform_env
from tests.terraform.helpers import MODULES_DIR, copy_terraform_tree, load_hcl

BUCKET = "arn:aws:s3:::acme-artifacts"
KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/acme-metadata"
FRAUD_TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/acme-fraud-metadata"
BLOB = "Flow/data/ab/ab" + "0" * 62

ROLES_CONFIG = f"""
terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws" }}
  }}
}}
provider "aws" {{ region = "us-east-1" }}

module "shared" {{
  source             = "../modules/iam"
  name               = "acme"
  s3_bucket_arn      = "{BUCKET}"
  s3_prefix          = "flowlib"
  dynamodb_table_arn = "{TABLE}"
  kms_key_arns       = ["{KEY}"]
  create_batch_roles = false
  create_eks_roles   = false
}}

module "fraud" {{
  source             = "../modules/iam"
  name               = "acme-fraud"
  s3_bucket_arn      = "{BUCKET}"
  s3_prefix          = "projects/fraud"
  dynamodb_table_arn = "{FRAUD_TABLE}"
  kms_key_arns       = ["{KEY}"]
  create_batch_roles = false
  create_eks_roles   = false
}}
"""


@pytest.fixture(scope="module")
def task_policies(
    terraform: str, provider_mirror: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """{"shared": policy, "fraud": policy} as rendered by ``terraform plan``."""
    base = tmp_path_factory.mktemp("tf-policies")
    tree = copy_terraform_tree(base / "terraform")
    config = tree / "policy_check"
    config.mkdir()
    (config / "main.tf").write_text(ROLES_CONFIG)
    with MotoServer(mode="thread") as server:
        env = terraform_env(base / "cli", mirror=provider_mirror, extra=aws_env(server.url))
        run_terraform(["init", "-input=false"], config, env, timeout=600)
        run_terraform(["plan", "-input=false", "-out=plan"], config, env, timeout=600)
        shown = json.loads(run_terraform(["show", "-json", "plan"], config, env).stdout)
    policies = {}
    for change in shown["resource_changes"]:
        if change["type"] == "aws_iam_role_policy":
            module = change["module_address"].split(".")[1]
            policies[module] = json.loads(change["change"]["after"]["policy"])
    assert set(policies) == {"shared", "fraud"}, policies
    return policies


def _object(key: str) -> str:
    return f"{BUCKET}/{key}"


def test_task_role_reads_and_writes_only_its_prefix(task_policies: dict[str, Any]) -> None:
    shared, fraud = [task_policies["shared"]], [task_policies["fraud"]]
    assert evaluate(shared, "s3:PutObject", _object(f"flowlib/{BLOB}")) == ALLOW
    assert evaluate(shared, "s3:GetObject", _object(f"flowlib/{BLOB}")) == ALLOW
    assert evaluate(fraud, "s3:PutObject", _object(f"projects/fraud/{BLOB}")) == ALLOW
    # Neither can write (or read) the other's artifacts, nor anything else in the bucket.
    for role, other in ((shared, "projects/fraud"), (fraud, "flowlib"), (fraud, "projects/x")):
        for action in ("s3:PutObject", "s3:GetObject"):
            assert evaluate(role, action, _object(f"{other}/{BLOB}")) == IMPLICIT_DENY
    assert evaluate(shared, "s3:PutObject", _object(f"flowlib-evil/{BLOB}")) == IMPLICIT_DENY


def test_task_role_cannot_delete_or_rewind(task_policies: dict[str, Any]) -> None:
    for name, prefix, table in (("shared", "flowlib", TABLE), ("fraud", "projects/fraud",
                                                                 FRAUD_TABLE)):
        role = [task_policies[name]]
        obj = _object(f"{prefix}/{BLOB}")
        for action in ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObjectVersion",
                       "s3:PutObjectVersionAcl", "s3:PutLifecycleConfiguration",
                       "s3:PutBucketPolicy"):
            assert evaluate(role, action, obj) == IMPLICIT_DENY, action
        assert evaluate(role, "s3:ListBucketVersions", BUCKET,
                        {"s3:prefix": f"{prefix}/"}) == IMPLICIT_DENY
        assert evaluate(role, "dynamodb:DeleteItem", table) == IMPLICIT_DENY
        # BatchWriteItem is authorized as a whole, DeleteRequests included.
        assert evaluate(role, "dynamodb:BatchWriteItem", table) == IMPLICIT_DENY
        assert evaluate(role, "dynamodb:DeleteTable", table) == IMPLICIT_DENY
        for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query",
                       "dynamodb:ConditionCheckItem"):
            assert evaluate(role, action, table) == ALLOW, action
        assert evaluate(role, "dynamodb:Query", f"{table}/index/gsi1") == ALLOW
    # Each project's role reaches only its own table.
    assert evaluate([task_policies["fraud"]], "dynamodb:PutItem", TABLE) == IMPLICIT_DENY
    assert evaluate([task_policies["shared"]], "dynamodb:PutItem", FRAUD_TABLE) == IMPLICIT_DENY


def test_missing_key_under_the_prefix_answers_404_not_403(task_policies: dict[str, Any]) -> None:
    """S3 answers a GET/HEAD of a missing key with 404 only if the caller may s3:ListBucket,
    evaluating s3:prefix as the requested key; the blob store's first write relies on it."""
    for name, prefix in (("shared", "flowlib"), ("fraud", "projects/fraud")):
        role = [task_policies[name]]
        key = f"{prefix}/{BLOB}"
        assert evaluate(role, "s3:ListBucket", BUCKET, {"s3:prefix": key}) == ALLOW
        # Listing under the prefix works; listing the whole bucket or another prefix does not.
        assert evaluate(role, "s3:ListBucket", BUCKET, {"s3:prefix": f"{prefix}/"}) == ALLOW
        assert evaluate(role, "s3:ListBucket", BUCKET, {"s3:prefix": "other/"}) == IMPLICIT_DENY
        assert evaluate(role, "s3:ListBucket", BUCKET, {}) == IMPLICIT_DENY


def test_kms_only_through_s3_and_dynamodb(task_policies: dict[str, Any]) -> None:
    role = [task_policies["shared"]]
    via_s3 = {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    assert evaluate(role, "kms:Decrypt", KEY, via_s3) == ALLOW
    assert evaluate(role, "kms:Decrypt", KEY, {}) == IMPLICIT_DENY
    assert evaluate(role, "kms:Decrypt", KEY, {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}
                    ) == IMPLICIT_DENY


# -- the bucket policy -------------------------------------------------------------------------
def _bucket_policy() -> dict[str, Any]:
    """modules/artifacts' bucket policy document as IAM JSON, with its ARNs filled in."""
    main = load_hcl(MODULES_DIR / "artifacts" / "main.tf")
    (document,) = [
        block["aws_iam_policy_document"]["bucket"]
        for block in main["data"]
        if "bucket" in block.get("aws_iam_policy_document", {})
    ]
    fill = {"${aws_s3_bucket.this.arn}": BUCKET, "${local.kms_key_arn}": KEY}

    def text(value: str) -> str:
        for placeholder, actual in fill.items():
            value = value.replace(placeholder, actual)
        assert "${" not in value, f"unfilled reference in {value}"
        return value

    statements = []
    for statement in document["statement"]:
        conditions: dict[str, dict[str, list[str]]] = {}
        for condition in statement.get("condition", []):
            tests = conditions.setdefault(condition["test"], {})
            assert condition["variable"] not in tests, "one test per key and operator"
            tests[condition["variable"]] = [text(v) for v in condition["values"]]
        statements.append({
            "Sid": statement["sid"],
            "Effect": statement.get("effect", "Allow"),
            "Action": statement["actions"],
            "Resource": [text(r) for r in statement["resources"]],
            "Condition": conditions,
        })
    return {"Version": "2012-10-17", "Statement": statements}


TLS = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}
KMS = "s3:x-amz-server-side-encryption"
KMS_KEY = "s3:x-amz-server-side-encryption-aws-kms-key-id"


@pytest.mark.parametrize(
    ("headers", "verdict"),
    [
        ({KMS: "aws:kms", KMS_KEY: KEY}, "not denied"),  # what flowlib sends with a key
        ({}, "not denied"),  # no SSE header: UploadPart, or the bucket default applies
        ({KMS: "aws:kms"}, DENY),  # aws:kms without a key id would use aws/s3
        ({KMS: "aws:kms", KMS_KEY: KEY.replace("1111", "9999")}, DENY),  # another key
        ({KMS: "AES256"}, DENY),
        ({KMS: "aws:kms:dsse", KMS_KEY: KEY}, DENY),
        ({KMS_KEY: KEY.replace("1111", "9999")}, DENY),
    ],
)
def test_bucket_policy_allows_only_the_bucket_key(headers: dict[str, str], verdict: str) -> None:
    result = evaluate([_bucket_policy()], "s3:PutObject", _object(f"flowlib/{BLOB}"),
                      {**TLS, **headers})
    if verdict == DENY:
        assert result == DENY, headers
    else:
        assert result != DENY, headers


def test_bucket_policy_requires_tls() -> None:
    policy = [_bucket_policy()]
    assert evaluate(policy, "s3:GetObject", _object(BLOB), {"aws:SecureTransport": "false"}
                    ) == DENY
    assert evaluate(policy, "s3:GetObject", _object(BLOB),
                    {"aws:SecureTransport": "true", "s3:TlsVersion": "1.1"}) == DENY
    assert evaluate(policy, "s3:GetObject", _object(BLOB), TLS) != DENY


def test_flowlib_puts_send_both_sse_headers_or_none() -> None:
    """The S3 store sends aws:kms together with the key id, or no SSE header at all."""
    from flowlib.datastore.s3 import S3BlobStore

    class _Profile(dict):
        def __getitem__(self, key: str) -> Any:
            return self.get(key)

    class _Aws:
        def __init__(self, key: str | None) -> None:
            self.profile = _Profile(s3_kms_key_arn=key)

    with_key = S3BlobStore(_Aws(KEY), "acme-artifacts", "flowlib", "Flow")  # type: ignore[arg-type]
    assert with_key.sse_args == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY}
    without = S3BlobStore(_Aws(None), "acme-artifacts", "flowlib", "Flow")  # type: ignore[arg-type]
    assert without.sse_args == {}


def test_a_403_on_head_still_writes_the_blob() -> None:
    """If a policy ever lacks s3:ListBucket over a key, S3 answers its HEAD with 403: the store
    then uploads instead of failing the step's first write (the PUT is idempotent)."""
    import boto3
    from botocore.stub import ANY, Stubber

    from flowlib.datastore.hashing import content_key
    from flowlib.datastore.s3 import S3BlobStore

    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")

    class _Aws:
        profile = {"s3_kms_key_arn": KEY}

        def client(self, name: str) -> Any:
            return client

    store = S3BlobStore(_Aws(), "acme-artifacts", "flowlib", "Flow")  # type: ignore[arg-type]
    data = b"hello"
    key = content_key([data])
    with Stubber(client) as stub:
        stub.add_client_error("head_object", "403", http_status_code=403)
        stub.add_response("put_object", {"ETag": '"e"'}, {
            "Bucket": "acme-artifacts", "Key": store.object_key(key), "Body": ANY,
            "ContentLength": len(data), "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY,
            "ChecksumAlgorithm": "SHA256", "ChecksumSHA256": ANY,
        })
        assert store.put([data]) == key
        stub.assert_no_pending_responses()


def test_bucket_check_falls_back_to_the_prefix_when_head_bucket_is_denied() -> None:
    """HeadBucket needs s3:ListBucket without a prefix, which the task roles lack: the store
    check then lists one key under the profile's prefix, which they may do."""
    import os

    import boto3
    from botocore.stub import Stubber

    from flowlib.config import Profile
    from flowlib.config.aws import AwsContext
    from flowlib.exceptions import FlowlibError

    profile = Profile("dev", {"region": "us-east-1", "s3_bucket": "acme-artifacts",
                              "s3_prefix": "projects/fraud"}, {})
    aws = AwsContext(profile)
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    aws._clients[(os.getpid(), "s3")] = client
    listed = {"Bucket": "acme-artifacts", "Prefix": "projects/fraud/", "MaxKeys": 1}
    with Stubber(client) as stub:
        stub.add_client_error("head_bucket", "403", http_status_code=403)
        stub.add_response("list_objects_v2", {"KeyCount": 0}, listed)
        aws.check_bucket()
        stub.add_client_error("head_bucket", "403", http_status_code=403)
        stub.add_client_error("list_objects_v2", "AccessDenied", http_status_code=403,
                              expected_params=listed)
        with pytest.raises(FlowlibError, match="Access denied.*ListObjectsV2 of the prefix"):
            aws.check_bucket()
