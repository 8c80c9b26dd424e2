"""Remote Terraform state: one S3 bucket per account and region, one key per environment.

The bucket is ``flowlib-tfstate-<account>-<region>``: deterministic, so every operator of the
account finds the same state without configuration. ``bootstrap`` is idempotent:

* absent: create it versioned, SSE-encrypted, public access blocked, with a TLS-only bucket
  policy, and tag it ``flowlib-platform:managed=true``;
* present and tagged as ours (for example after an interrupted bootstrap): put any missing
  setting back;
* present and not ours (a state bucket the organisation brought): leave it as it is and say
  which of the settings it lacks;
* owned by another account: stop (bucket names are global).

Locking: S3-native (``use_lockfile``, a ``<key>.tflock`` object) on Terraform 1.10+, else a
DynamoDB lock table ``flowlib-tfstate-lock``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from platform_cli.errors import PlatformError, StateLockedError

MANAGED_TAG = ("flowlib-platform:managed", "true")
LOCK_TABLE = "flowlib-tfstate-lock"


def bucket_name(account_id: str, region: str) -> str:
    """``PLATFORM_STATE_BUCKET`` (an organisation's own state bucket), else the default."""
    return os.environ.get("PLATFORM_STATE_BUCKET") or f"flowlib-tfstate-{account_id}-{region}"


@dataclass
class BootstrapResult:
    bucket: str
    created: bool
    lock_table: str | None
    notes: list[str] = field(default_factory=list)


def _s3(region: str) -> Any:
    from platform_cli.preflight import aws_session

    return aws_session(region).client("s3")


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def tls_only_policy(bucket: str) -> dict[str, Any]:
    arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
            "Action": "s3:*", "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    }


def bootstrap(account_id: str, region: str, use_lockfile: bool) -> BootstrapResult:
    import botocore.exceptions

    s3 = _s3(region)
    bucket = bucket_name(account_id, region)
    created = False
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account_id)
        exists = True
        # Belt and braces: some S3 implementations ignore ExpectedBucketOwner; a bucket of
        # ours is in our own bucket list.
        if not any(b["Name"] == bucket for b in s3.list_buckets().get("Buckets", [])):
            raise _taken(bucket, account_id)
    except botocore.exceptions.ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 403:
            raise _taken(bucket, account_id) from None
        if status != 404 and _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise PlatformError(f"Cannot check the state bucket {bucket}: {exc}") from None
        exists = False
    if not exists:
        try:
            extra = {} if region == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=bucket, **extra)
            created = True
        except botocore.exceptions.ClientError as exc:
            if _code(exc) == "BucketAlreadyOwnedByYou":
                pass
            elif _code(exc) == "BucketAlreadyExists":
                raise _taken(bucket, account_id) from None
            else:
                raise PlatformError(f"Cannot create the state bucket {bucket}: {exc}") from None
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [
            {"Key": MANAGED_TAG[0], "Value": MANAGED_TAG[1]}]})
    ours = created or _is_ours(s3, bucket)
    missing = _missing_settings(s3, bucket)
    notes: list[str] = []
    if ours:
        _ensure(s3, bucket, missing)
        if missing and not created:
            notes.append(f"restored on the state bucket: {', '.join(missing)}")
    elif missing:
        notes.append(f"the state bucket {bucket} was not created by platform and lacks: "
                     f"{', '.join(missing)} (left unchanged; ask its owner)")
    table = None if use_lockfile else ensure_lock_table(region)
    return BootstrapResult(bucket, created, table, notes)


def _taken(bucket: str, account_id: str) -> PlatformError:
    return PlatformError(
        f"The state bucket name {bucket} is already taken by another AWS account (S3 bucket "
        f"names are global), so account {account_id} cannot use it. Nothing was created.",
        hint="set PLATFORM_STATE_BUCKET to a bucket name of your own and run init again",
    )


def _is_ours(s3: Any, bucket: str) -> bool:
    import botocore.exceptions

    try:
        tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except botocore.exceptions.ClientError:
        return False
    return any(t["Key"] == MANAGED_TAG[0] and t["Value"] == MANAGED_TAG[1] for t in tags)


def _missing_settings(s3: Any, bucket: str) -> list[str]:
    import botocore.exceptions

    missing = []
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        missing.append("versioning")
    try:
        s3.get_bucket_encryption(Bucket=bucket)
    except botocore.exceptions.ClientError:
        missing.append("encryption")
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        if not all(block.values()):
            missing.append("public access block")
    except botocore.exceptions.ClientError:
        missing.append("public access block")
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        if "aws:SecureTransport" not in json.dumps(policy):
            missing.append("TLS-only policy")
    except botocore.exceptions.ClientError:
        missing.append("TLS-only policy")
    return missing


def _ensure(s3: Any, bucket: str, missing: list[str]) -> None:
    if "versioning" in missing:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    if "encryption" in missing:
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
             "BucketKeyEnabled": True}]})
    if "public access block" in missing:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    if "TLS-only policy" in missing:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only_policy(bucket)))


def ensure_lock_table(region: str) -> str:
    """DynamoDB lock table for Terraform older than 1.10 (LockID string hash key)."""
    import botocore.exceptions

    from platform_cli.preflight import aws_session

    ddb = aws_session(region).client("dynamodb")
    try:
        ddb.describe_table(TableName=LOCK_TABLE)
    except botocore.exceptions.ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise PlatformError(f"Cannot check the lock table {LOCK_TABLE}: {exc}") from None
        ddb.create_table(
            TableName=LOCK_TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            SSESpecification={"Enabled": True},
        )
        ddb.get_waiter("table_exists").wait(TableName=LOCK_TABLE)
    return LOCK_TABLE


def backend_config(bucket: str, key: str, region: str, lock_table: str | None
                   ) -> dict[str, str]:
    """The partial backend configuration given to ``terraform init``.

    ``PLATFORM_BACKEND_CONFIG_EXTRA`` (advanced) adds ``key=value`` settings separated by
    commas, for S3-compatible stores or test doubles (``use_path_style=true``, ...)."""
    config = {"bucket": bucket, "key": key, "region": region, "encrypt": "true"}
    if lock_table:
        config["dynamodb_table"] = lock_table
    else:
        config["use_lockfile"] = "true"
    for item in filter(None, (os.environ.get("PLATFORM_BACKEND_CONFIG_EXTRA") or "").split(",")):
        name, sep, value = item.partition("=")
        if not sep:
            raise PlatformError(f"PLATFORM_BACKEND_CONFIG_EXTRA: '{item}' is not key=value.")
        config[name.strip()] = value.strip()
    return config


def check_lock(region: str, bucket: str, key: str) -> None:
    """Fail early, with who and since when, if another run holds the S3 lock object."""
    import botocore.exceptions

    try:
        body = _s3(region).get_object(Bucket=bucket, Key=f"{key}.tflock")["Body"].read()
    except botocore.exceptions.ClientError:
        return
    try:
        info = json.loads(body)
    except ValueError:
        info = {}
    raise locked_error(info, f"s3://{bucket}/{key}.tflock")


def locked_error(info: dict[str, Any], where: str) -> StateLockedError:
    who = info.get("Who") or "unknown"
    since = info.get("Created") or "an unknown time"
    operation = (info.get("Operation") or "an operation").replace("OperationType", "").lower()
    lock_id = info.get("ID") or "<lock id>"
    from platform_cli.environments import STATE_KEY_PREFIX

    env = ""
    path = str(info.get("Path") or where)
    parts = path.split("/")
    if STATE_KEY_PREFIX in parts and parts.index(STATE_KEY_PREFIX) + 1 < len(parts):
        env = parts[parts.index(STATE_KEY_PREFIX) + 1]
    return StateLockedError(
        f"The state is locked by {who} since {since} ({operation}, lock {lock_id}, {where}).",
        hint=(f"wait for that run to finish; if it was killed and nothing is running, release "
              f"the lock with `platform force-unlock {env or '<env>'} {lock_id}`"),
    )


def read_state(region: str, bucket: str, key: str) -> dict[str, Any] | None:
    """The environment's state document (outputs without running Terraform), or None."""
    import botocore.exceptions

    try:
        body = _s3(region).get_object(Bucket=bucket, Key=key)["Body"].read()
    except botocore.exceptions.ClientError as exc:
        if _code(exc) in ("NoSuchKey", "404", "NotFound"):
            return None
        raise PlatformError(f"Cannot read the state s3://{bucket}/{key}: {exc}") from None
    return json.loads(body)


def put_record(region: str, bucket: str, key: str, record: dict[str, Any]) -> None:
    _s3(region).put_object(Bucket=bucket, Key=key, Body=json.dumps(record, indent=2).encode(),
                           ContentType="application/json")


def list_remote(region: str, bucket: str) -> dict[str, dict[str, Any]]:
    """Environments found in the state bucket: name -> record (from platform.json)."""
    from platform_cli.environments import STATE_KEY_PREFIX, is_valid_name

    s3 = _s3(region)
    found: dict[str, dict[str, Any]] = {}
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{STATE_KEY_PREFIX}/"):
        for obj in page.get("Contents", []):
            parts = obj["Key"].split("/")
            if (len(parts) == 3 and parts[2] in ("terraform.tfstate", "platform.json")
                    and is_valid_name(parts[1])):
                entry = found.setdefault(parts[1], {})
                entry[parts[2]] = obj["Key"]
    return found


def delete_environment_objects(region: str, bucket: str, name: str) -> None:
    """After destroy: the current state and record objects go (older versions stay in the
    versioned bucket, for forensics)."""
    from platform_cli.environments import record_key, state_key

    s3 = _s3(region)
    for key in (state_key(name), record_key(name)):
        s3.delete_object(Bucket=bucket, Key=key)
