"""Checks of the retention stack (terraform/retention.tf, modules/retention) shared by the
plan tests and the apply cycle: what the plan or the applied stack must say about the gc policy,
the scheduled gc and the cost-allocation tags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The policy both tests set: every retention key of flowlib_config non-null.
RETENTION_TFVARS: dict[str, Any] = {
    "retention_keep_last": 20,
    "retention_keep_days": 30,
    "retention_grace_hours": 72,
    "retention_flow_policies": {"TrainFlow": {"keep_last": 50}, "NightlyFlow": {"keep_days": 7}},
    "retention_gc_schedule_enabled": True,
}

RETENTION_PROFILE_KEYS = {
    "retention_keep_last": "20",
    "retention_keep_days": "30",
    "retention_grace_hours": "72",
    "retention_flow_keep_last": {"TrainFlow": "50"},
    "retention_flow_keep_days": {"NightlyFlow": "7"},
}

GC_TARGET_SUFFIX = ":scheduler:::aws-sdk:batch:submitJob"
# What the gc role allows besides KMS (modules/retention/main.tf): exactly what `flowlib gc`
# calls (test_retention_gc_permissions.py records it).
GC_ACTIONS = {
    "s3:ListBucket", "s3:ListBucketVersions", "s3:DeleteObjectVersion", "s3:GetObject",
    "dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem",
}


def check_profile_path(config: dict[str, Any], tmp_path: Path, monkeypatch: Any) -> None:
    """What `platform init/apply` does with flowlib_config (profile_for_stack, write), read back
    as the policy `flowlib gc` applies."""
    from flowlib.config import effective_profile
    from flowlib.retention import policy_for
    from flowlib.retention.policy import RetentionPolicy, flow_policies
    from platform_cli import profiles

    monkeypatch.setenv("FLOWLIB_CONFIG", str(tmp_path / "flowlib-config.json"))
    for key in ("FLOWLIB_PROFILE", "FLOWLIB_RETENTION_KEEP_LAST", "FLOWLIB_RETENTION_KEEP_DAYS",
                "FLOWLIB_RETENTION_GRACE_HOURS"):
        monkeypatch.delenv(key, raising=False)
    name = config["environment"]
    profile = profiles.profile_for_stack(config)
    for key, value in RETENTION_PROFILE_KEYS.items():
        assert profile[key] == value, (key, profile.get(key))
    profiles.write(name, profile)
    assert profiles.read(name) == profile
    resolved = effective_profile(name)
    policy = policy_for(resolved)
    assert policy == RetentionPolicy(keep_last=20, keep_days=30.0, grace_hours=72.0)
    per_flow = flow_policies(resolved, policy)
    assert per_flow == {
        "TrainFlow": RetentionPolicy(50, 30.0, 72.0),
        "NightlyFlow": RetentionPolicy(20, 7.0, 72.0),
    }
    # Every isolated project's profile carries the same policy.
    for project_profile in profiles.project_profiles_for_stack(config).values():
        for key, value in RETENTION_PROFILE_KEYS.items():
            assert project_profile[key] == value


def document(policy: str | dict[str, Any]) -> dict[str, Any]:
    return json.loads(policy) if isinstance(policy, str) else policy


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def check_gc_role_policy(policy: str | dict[str, Any], bucket_arn: str, prefixes: list[str],
                         table_arns: list[str], kms_key_arn: str | None) -> None:
    """The gc role: deletes only under the environment's prefixes and in its tables, lists the
    bucket only under those prefixes, uses the key only through S3 and DynamoDB."""
    statements = document(policy)["Statement"]
    holds = {f"{bucket_arn}/{p}/*/entries/holds/*" for p in prefixes}
    allowed = {bucket_arn, *(f"{bucket_arn}/{p}/*" for p in prefixes), *holds,
               *table_arns, *(f"{t}/index/*" for t in table_arns)}
    if kms_key_arn:
        allowed.add(kms_key_arn)
    granted: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions, resources = as_list(statement["Action"]), as_list(statement["Resource"])
        assert not any("*" in a for a in actions), f"wildcard action: {actions}"
        assert set(resources) <= allowed, f"gc role reaches {set(resources) - allowed}"
        for action in actions:
            granted.setdefault(action, set()).update(resources)
        if bucket_arn in resources:
            listed = as_list(statement["Condition"]["StringLike"]["s3:prefix"])
            assert sorted(listed) == sorted([*prefixes, *(f"{p}/*" for p in prefixes)])
        if kms_key_arn and kms_key_arn in resources:
            assert statement["Condition"]["StringEquals"]["kms:ViaService"]
    assert {a for a in granted if not a.startswith("kms:")} == GC_ACTIONS
    assert granted["s3:DeleteObjectVersion"] == {f"{bucket_arn}/{p}/*" for p in prefixes}
    assert granted["s3:GetObject"] == holds, "gc reads only the deployments' holds"
    for action in ("dynamodb:UpdateItem", "dynamodb:BatchWriteItem"):
        assert granted[action] <= {*table_arns, *(f"{t}/index/*" for t in table_arns)}
        assert set(table_arns) <= granted[action]
    assert "s3:PutObject" not in granted and "dynamodb:PutItem" not in granted, (
        "gc writes nothing new")


def check_scheduler_role_policy(policy: str | dict[str, Any], queue_arn: str,
                                job_definition_arn: str) -> None:
    """EventBridge Scheduler may submit the gc job definition to the gc queue, nothing else."""
    statements = document(policy)["Statement"]
    assert [a for s in statements for a in as_list(s["Action"])] == ["batch:SubmitJob"]
    resources = {r for s in statements for r in as_list(s["Resource"])}
    unversioned = job_definition_arn.rsplit(":", 1)[0]
    assert resources == {queue_arn, unversioned, f"{unversioned}:*"}, resources


def gc_input(schedule_target: dict[str, Any]) -> dict[str, Any]:
    """The SubmitJob request the schedule sends (universal target input, PascalCase)."""
    return json.loads(schedule_target["Input"] if "Input" in schedule_target
                      else schedule_target["input"])


def submit_job_kwargs(request: dict[str, Any]) -> dict[str, Any]:
    """boto3's names for the universal target's request (jobName, jobQueue, jobDefinition)."""
    return {key[0].lower() + key[1:]: value for key, value in request.items()}
