"""Plans (no apply) of the root stack against a moto server for the paths the apply cycle does
not take: a VPC, roles and KMS key brought from outside, and every optional feature off.
``terraform show -json`` of each plan says what would be created and what flowlib_config
would hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_env import MotoServer, aws_env, boto3_client, run_terraform, terraform_env
from tests.terraform.helpers import STACK_OUTPUT_SCHEMA_FILE, copy_terraform_tree

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account


@pytest.fixture(scope="module")
def moto_plans(
    terraform: str, provider_mirror: Path, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """(work folder, a copy of terraform/, Terraform's environment, moto URL), shared by the
    root stack's plans and the examples' plans: one moto server for the module."""
    base = tmp_path_factory.mktemp("tf-plan")
    with MotoServer(mode="process", log_path=base / "moto.log", startup_timeout=120) as server:
        tree = copy_terraform_tree(base / "terraform")
        env = terraform_env(base / "cli", mirror=provider_mirror, extra=aws_env(server.url))
        yield base, tree, env, server.url


def _plan(base: Path, directory: Path, env: dict[str, str], name: str,
          tfvars: dict[str, Any]) -> dict[str, Any]:
    """``terraform plan`` of ``directory`` with ``tfvars``, as ``terraform show -json``."""
    var_file = base / f"{name}.tfvars.json"
    var_file.write_text(json.dumps(tfvars))
    plan_file = base / f"{name}.tfplan"
    run_terraform(
        ["plan", "-input=false", f"-var-file={var_file}", f"-out={plan_file}"],
        directory,
        env,
        timeout=900,
    )
    return json.loads(run_terraform(["show", "-json", str(plan_file)], directory, env).stdout)


@pytest.fixture(scope="module")
def planner(moto_plans: Any) -> Any:
    base, stack_dir, env, url = moto_plans
    # Local state for plans: the S3 backend is exercised by the apply cycle.
    (stack_dir / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    run_terraform(["init"], stack_dir, env, timeout=600)

    def plan(name: str, tfvars: dict[str, Any]) -> dict[str, Any]:
        return _plan(base, stack_dir, env, name, tfvars)

    return plan, url


def _created_types(plan: dict[str, Any]) -> set[str]:
    return {
        change["type"]
        for change in plan["resource_changes"]
        if "create" in change["change"]["actions"]
    }


def _flowlib_config(plan: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(known values, {key: True} for values known only after apply) of flowlib_config."""
    change = plan["output_changes"]["flowlib_config"]
    unknown = change["after_unknown"]
    return change["after"] or {}, unknown if isinstance(unknown, dict) else {}


def test_bring_your_own_vpc_roles_and_key(planner: Any) -> None:
    plan, url = planner
    ec2 = boto3_client("ec2", url, REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.99.{i}.0/24", AvailabilityZone=az)["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate(("us-east-1a", "us-east-1b"))
    ]
    key_arn = boto3_client("kms", url, REGION).create_key()["KeyMetadata"]["Arn"]
    roles = {
        "task_role_arn": f"arn:aws:iam::{ACCOUNT}:role/byo-task",
        "batch_service_role_arn": f"arn:aws:iam::{ACCOUNT}:role/byo-batch",
        "batch_instance_profile_arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/byo-ecs",
        "batch_execution_role_arn": f"arn:aws:iam::{ACCOUNT}:role/byo-exec",
        "eks_cluster_role_arn": f"arn:aws:iam::{ACCOUNT}:role/byo-eks",
        "eks_node_role_arn": f"arn:aws:iam::{ACCOUNT}:role/byo-node",
        "sfn_role_arn": f"arn:aws:iam::{ACCOUNT}:role/byo-sfn",
        "scheduler_role_arn": f"arn:aws:iam::{ACCOUNT}:role/byo-scheduler",
        "events_role_arn": f"arn:aws:iam::{ACCOUNT}:role/byo-events",
    }
    planned = plan(
        "byo",
        {
            "environment": "byo",
            "region": REGION,
            "create_vpc": False,
            "vpc_id": vpc_id,
            "private_subnet_ids": subnet_ids,
            "create_kms_key": False,
            "kms_key_arn": key_arn,
            "enable_batch": True,
            "enable_eks": True,
            "s3_event_buckets": ["byo-landing"],
            **roles,
        },
    )
    created = _created_types(planned)
    for brought in (
        "aws_vpc",
        "aws_subnet",
        "aws_iam_role",
        "aws_iam_instance_profile",
        "aws_kms_key",
        "aws_flow_log",
        "aws_nat_gateway",
    ):
        assert brought not in created, f"{brought} is created although it was brought"
    for wanted in (
        "aws_s3_bucket",
        "aws_dynamodb_table",
        "aws_batch_job_queue",
        "aws_eks_cluster",
        "aws_eks_node_group",
        "aws_ecr_repository",
    ):
        assert wanted in created, f"{wanted} missing from the plan"
    by_address = {c["address"]: c for c in planned["resource_changes"]}
    cluster = by_address["module.eks[0].aws_eks_cluster.this"]["change"]["after"]
    assert cluster["role_arn"] == roles["eks_cluster_role_arn"]
    environments = [c["change"]["after"] for c in planned["resource_changes"]
                    if c["type"] == "aws_batch_compute_environment"]
    assert environments
    assert all(e["service_role"] == roles["batch_service_role_arn"] for e in environments)
    assert sorted(cluster["vpc_config"][0]["subnet_ids"]) == sorted(subnet_ids)
    config, _ = _flowlib_config(planned)
    assert config["task_role_arn"] == roles["task_role_arn"]
    assert config["batch_job_role_arn"] == roles["task_role_arn"]
    assert config["batch_execution_role_arn"] == roles["batch_execution_role_arn"]
    assert config["s3_kms_key_arn"] == key_arn
    assert config["sfn_role_arn"] == roles["sfn_role_arn"]
    assert config["scheduler_role_arn"] == roles["scheduler_role_arn"]
    assert config["events_role_arn"] == roles["events_role_arn"]
    assert config["event_bus_name"] == "flowlib-byo"
    notified = {c["index"]: c["change"]["after"]["eventbridge"] for c in planned["resource_changes"]
                if c["type"] == "aws_s3_bucket_notification"}
    assert notified == {"artifacts": True, "byo-landing": True}
    # A brought task role is its owner's to grant events:PutEvents.
    assert not [c for c in planned["resource_changes"]
                if c["address"].startswith("module.events[0].aws_iam_role_policy.put_events")]


def test_everything_optional_off_gives_nulls(planner: Any) -> None:
    plan, _ = planner
    planned = plan(
        "minimal",
        {
            "environment": "minimal",
            "region": REGION,
            "enable_batch": False,
            "enable_eks": False,
            "create_ecr_repository": False,
            "enable_flow_logs": False,
            "enable_events": False,
        },
    )
    created = _created_types(planned)
    for absent in (
        "aws_batch_compute_environment",
        "aws_eks_cluster",
        "aws_ecr_repository",
        "aws_nat_gateway",
        "aws_flow_log",
    ):
        assert absent not in created
    iam_roles = [
        c["change"]["after"]["name"]
        for c in planned["resource_changes"]
        if c["type"] == "aws_iam_role"
    ]
    assert iam_roles == ["flowlib-minimal-task"], iam_roles
    config, unknown = _flowlib_config(planned)
    schema = json.loads(STACK_OUTPUT_SCHEMA_FILE.read_text())
    assert set(config) | set(unknown) == set(schema["keys"])
    for key in (
        "batch_job_queues",
        "batch_default_job_queue",
        "batch_job_role_arn",
        "batch_execution_role_arn",
        "eks_cluster_name",
        "eks_cluster_endpoint",
        "kubernetes_namespace",
        "kubernetes_service_account",
        "ecr_repository_url",
        "image",
        "events_role_arn",
        "event_bus_name",
    ):
        assert key not in unknown or not unknown[key], f"{key} should be known (null)"
        assert config.get(key) is None, f"{key} should be null with the feature off"
    assert config["environment"] == "minimal"
    assert config["s3_prefix"] == "flowlib"
    # Retention is off by default: no schedule, no role that may delete, no tag activation,
    # no policy in the profile (gc refuses to run without one).
    assert not [c for c in planned["resource_changes"]
                if c["address"].startswith("module.retention.") and c["mode"] == "managed"]
    for key in ("retention_keep_last", "retention_keep_days", "retention_grace_hours",
                "retention_flow_keep_last", "retention_flow_keep_days",
                "retention_gc_schedule_arn"):
        assert config[key] is None, key


def _plan_example(moto_plans: Any, example: str, tfvars: dict[str, Any]) -> dict[str, Any]:
    base, tree, env, _ = moto_plans
    directory = tree / "examples" / example
    run_terraform(["init", "-input=false"], directory, env, timeout=600)
    return _plan(base, directory, env, f"example-{example}", tfvars)


def test_example_minimal_plans_storage_and_a_task_role_only(moto_plans: Any) -> None:
    planned = _plan_example(moto_plans, "minimal", {})
    created = _created_types(planned)
    for wanted in ("aws_kms_key", "aws_s3_bucket", "aws_dynamodb_table", "aws_iam_role"):
        assert wanted in created, f"{wanted} missing from the plan"
    for absent in ("aws_vpc", "aws_batch_compute_environment", "aws_eks_cluster"):
        assert absent not in created
    roles = [c for c in planned["resource_changes"] if c["type"] == "aws_iam_role"]
    assert [r["address"] for r in roles] == ["module.iam.module.task_role[0].aws_iam_role.this"]


def test_example_existing_vpc_and_roles_creates_no_network_and_no_role(moto_plans: Any) -> None:
    _, _, _, url = moto_plans
    ec2 = boto3_client("ec2", url, REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.98.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.98.{i}.0/24", AvailabilityZone=az)[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate(("us-east-1a", "us-east-1b"))
    ]
    service_role = f"arn:aws:iam::{ACCOUNT}:role/byo-batch-service"
    planned = _plan_example(
        moto_plans,
        "existing-vpc-and-roles",
        {
            "vpc_id": vpc_id,
            "subnet_ids": subnet_ids,
            "batch_service_role_arn": service_role,
            "batch_instance_profile_arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/byo-ecs",
            "batch_execution_role_arn": f"arn:aws:iam::{ACCOUNT}:role/byo-exec",
            "task_role_arn": f"arn:aws:iam::{ACCOUNT}:role/byo-task",
        },
    )
    created = _created_types(planned)
    for brought in ("aws_vpc", "aws_subnet", "aws_iam_role", "aws_iam_instance_profile"):
        assert brought not in created, f"{brought} is created although it was brought"
    for wanted in ("aws_batch_compute_environment", "aws_batch_job_queue", "aws_kms_key"):
        assert wanted in created, f"{wanted} missing from the plan"
    environments = [
        c["change"]["after"]
        for c in planned["resource_changes"]
        if c["type"] == "aws_batch_compute_environment"
    ]
    assert environments and all(e["service_role"] == service_role for e in environments)
    assert planned["output_changes"]["batch_service_role_arn"]["after"] == service_role


BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/team-boundary"


def _http_api_package(folder: Path) -> Path:
    """A stand-in for the function's package: a plan only hashes it."""
    import zipfile

    package = folder / "http_api.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("flowlib/__init__.py", "")
    return package


def test_retention_policy_schedule_and_cost_tags(planner: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Retention variables reach flowlib_config and, through `platform`'s profile writing, the
    policy gc applies; the schedule, its roles and the cost-allocation tags are planned. With
    every feature on, every role the stack creates has the stack's IAM path and permissions
    boundary (modules/service_role)."""
    from tests.terraform.retention_checks import (
        GC_TARGET_SUFFIX,
        RETENTION_PROFILE_KEYS,
        RETENTION_TFVARS,
        check_profile_path,
    )

    plan, url = planner
    key_arn = boto3_client("kms", url, REGION).create_key()["KeyMetadata"]["Arn"]
    planned = plan("retention", {
        "environment": "ret",
        "region": REGION,
        "create_kms_key": False,
        "kms_key_arn": key_arn,
        "enable_batch": True,
        "enable_eks": True,
        "create_ecr_repository": False,
        "image": "registry.example/flowlib-step:1",
        "projects": {"vision": {}},
        **RETENTION_TFVARS,
        "retention_gc_schedule_expression": "rate(12 hours)",
        "activate_cost_allocation_tags": True,
        "http_api_package_path": str(_http_api_package(tmp_path)),
        "iam_role_path": "/flowlib/",
        "iam_role_permissions_boundary": BOUNDARY,
    })
    roles = {c["address"]: c["change"]["after"] for c in planned["resource_changes"]
             if c["type"] == "aws_iam_role"}
    # task (shared and the project's), job execution, ECS instance, EKS node, Batch and EKS
    # service, flow logs, gc and its scheduler, Step Functions and its scheduler, events, HTTP.
    assert len(roles) == 14, sorted(roles)
    assert {address: (role["path"], role["permissions_boundary"]) for address, role in
            roles.items()} == {address: ("/flowlib/", BOUNDARY) for address in roles}
    config, unknown = _flowlib_config(planned)
    for key, value in RETENTION_PROFILE_KEYS.items():
        assert config[key] == value, key
    assert unknown.get("retention_gc_schedule_arn") is True  # known after apply
    # Names and ARNs created by the apply are unknown in a plan: stand-ins for the profile.
    known = {key: value for key, value in config.items() if not unknown.get(key)}
    for required in ("s3_bucket", "dynamodb_table"):  # names Terraform derives at apply
        known.setdefault(required, f"planned-{required}")
    check_profile_path(known, tmp_path, monkeypatch)

    by_address = {c["address"]: c["change"]["after"] for c in planned["resource_changes"]}
    schedule = by_address["module.retention.aws_scheduler_schedule.gc[0]"]
    assert schedule["schedule_expression"] == "rate(12 hours)"
    assert schedule["state"] == "ENABLED"
    assert schedule["target"][0]["arn"].endswith(GC_TARGET_SUFFIX)
    assert "module.retention.aws_batch_job_definition.gc[0]" in by_address
    roles = {c["change"]["after"]["name"] for c in planned["resource_changes"]
             if c["type"] == "aws_iam_role"}
    assert {"flowlib-ret-gc", "flowlib-ret-gc-scheduler"} <= roles
    tags = {after["tag_key"]: after["status"] for address, after in by_address.items()
            if address.startswith("module.retention.aws_ce_cost_allocation_tag.")}
    fields = ("flow", "run", "step", "project", "user")
    assert tags == {**{f"flowlib:{f}": "Active" for f in fields},
                    **{f"flowlib/{f}": "Active" for f in fields}}


# Bad retention settings, planned by `terraform test` with a mocked AWS provider: validation
# and preconditions need no AWS, and one `terraform test` runs every file (a failing run does
# not stop the other files), several times faster than a plan against moto each.
_MOCK_HEADER = """
mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\\"Version\\": \\"2012-10-17\\", \\"Statement\\": []}" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b", "us-east-1c"] }
  }
}

variables {
  environment  = "retbad"
  region       = "us-east-1"
  enable_batch = false
  enable_eks   = false
}
"""

_BAD_RETENTION = {
    # Single-variable validations, all reported by one run.
    "variables": ("""
    retention_keep_last              = 2.5
    retention_grace_hours            = 0
    retention_gc_schedule_expression = "daily"
    retention_flow_policies          = { TrainFlow = { keep_days = -1 } }
""", ["retention_keep_last must be a whole number", "retention_grace_hours must be at least 1",
      "retention_gc_schedule_expression must be cron(...) or rate(...)",
      "keep_last must be a whole number >= 0 and keep_days >= 0"]),
    # A policy keeping nothing (environment and one flow), a schedule without Batch.
    "policies": ("""
    retention_keep_last           = 0
    retention_gc_schedule_enabled = true
    retention_flow_policies       = { NightlyFlow = { keep_last = 0 } }
""", ["keeps no run by count or age (retention_keep_last and retention_keep_days are 0 or unset)",
      "keeps no run by count or age for: NightlyFlow",
      "runs gc as a Batch job: set enable_batch = true"]),
}


def test_retention_refuses_bad_settings(moto_plans: Any, planner: Any) -> None:
    _, stack_dir, env, _ = moto_plans
    tests_dir = stack_dir / "tests"
    tests_dir.mkdir(exist_ok=True)
    for name, (variables, _) in _BAD_RETENTION.items():
        run = f'run "{name}" {{\n  command = plan\n  variables {{{variables}  }}\n}}\n'
        (tests_dir / f"retention_{name}.tftest.hcl").write_text(_MOCK_HEADER + "\n" + run)
    result = run_terraform(["test", "-no-color"], stack_dir, env, timeout=900, check=False)
    text = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "0 passed, 2 failed" in text, text[-3000:]
    for _, messages in _BAD_RETENTION.values():
        for message in messages:
            assert message in text, f"{message!r} not in the errors:\n{text[-4000:]}"
