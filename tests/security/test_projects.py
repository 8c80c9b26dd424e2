"""Isolated projects: the root stack's `projects` gives each project a prefix, a table and a task
role (planned against a moto server), and flowlib turns the stack output into one profile per
project whose steps run as that role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowlib.config import (
    ConfigError,
)
from flowlib.config.writing import (
    profile_from_stack_output,
    project_profiles_from_stack_output,
)
from tests.support.aws_env import MotoServer, aws_env, run_terraform, terraform_env
from tests.terraform.helpers import STACK_OUTPUT_SCHEMA_FILE, copy_terraform_tree


def _stack_output(projects: Any) -> dict[str, Any]:
    keys = json.loads(STACK_OUTPUT_SCHEMA_FILE.read_text())["keys"]
    output: dict[str, Any] = dict.fromkeys(keys)
    output.update({
        "schema_version": 1, "environment": "dev", "region": "eu-west-1",
        "s3_bucket": "acme-dev", "s3_prefix": "flowlib", "s3_kms_key_arn": "arn:kms",
        "dynamodb_table": "acme-dev-metadata", "task_role_arn": "arn:role/task",
        "batch_job_role_arn": "arn:role/task", "batch_default_job_queue": "arn:queue/cpu",
        "kubernetes_service_account": "flowlib", "projects": projects,
    })
    return output


def test_one_profile_per_project_with_its_prefix_table_and_role() -> None:
    output = _stack_output({
        "fraud": {"s3_prefix": "projects/fraud", "dynamodb_table": "acme-dev-fraud-metadata",
                  "task_role_arn": "arn:role/fraud", "kubernetes_service_account": "flowlib-fraud"},
    })
    base = profile_from_stack_output(output)
    assert base["s3_prefix"] == "flowlib" and "projects" not in base
    (name, profile), = project_profiles_from_stack_output({"value": output}).items()
    assert name == "dev-fraud"
    assert profile == {
        **base,
        "s3_prefix": "projects/fraud",
        "dynamodb_table": "acme-dev-fraud-metadata",
        "task_role_arn": "arn:role/fraud",
        "batch_job_role_arn": "arn:role/fraud",  # Batch jobs of this profile run as the project
        "kubernetes_service_account": "flowlib-fraud",
    }
    assert project_profiles_from_stack_output(_stack_output(None)) == {}
    with pytest.raises(ConfigError, match="project 'x' lacks 'task_role_arn'"):
        project_profiles_from_stack_output(_stack_output({"x": {"s3_prefix": "p",
                                                                "dynamodb_table": "t"}}))


@pytest.fixture(scope="module")
def root_planner(terraform: str, provider_mirror: Path, tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("tf-projects")
    with MotoServer(mode="process", log_path=base / "moto.log", startup_timeout=120) as server:
        stack = copy_terraform_tree(base / "terraform")
        (stack / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
        env = terraform_env(base / "cli", mirror=provider_mirror, extra=aws_env(server.url))
        run_terraform(["init", "-input=false"], stack, env, timeout=600)

        def plan(name: str, tfvars: dict[str, Any], check: bool = True) -> Any:
            var_file = base / f"{name}.tfvars.json"
            var_file.write_text(json.dumps(tfvars))
            result = run_terraform(
                ["plan", "-input=false", f"-var-file={var_file}", f"-out={base / name}.plan"],
                stack, env, timeout=900, check=check,
            )
            if not check:
                return result
            shown = run_terraform(["show", "-json", f"{base / name}.plan"], stack, env).stdout
            return json.loads(shown)

        yield plan


MINIMAL = {"region": "us-east-1", "enable_batch": False, "enable_eks": False,
           "create_ecr_repository": False, "enable_flow_logs": False, "create_vpc": False,
           "vpc_id": "vpc-0", "private_subnet_ids": ["subnet-a", "subnet-b"]}


def test_projects_get_their_own_table_and_role_in_the_plan(root_planner: Any) -> None:
    planned = root_planner("projects", {
        **MINIMAL, "environment": "iso",
        "projects": {"fraud": {}, "search": {"s3_prefix": "teams/search"}},
    })
    created = {c["address"]: c["change"]["after"] for c in planned["resource_changes"]
               if "create" in c["change"]["actions"]}
    roles = sorted(v["name"] for a, v in created.items()
                   if a.endswith("module.task_role[0].aws_iam_role.this"))
    assert roles == ["flowlib-iso-fraud-task", "flowlib-iso-search-task", "flowlib-iso-task"]
    tables = sorted(v["name"] for a, v in created.items() if a.endswith("aws_dynamodb_table.this"))
    assert tables == ["flowlib-iso-fraud-metadata", "flowlib-iso-metadata",
                      "flowlib-iso-search-metadata"]
    change = planned["output_changes"]["flowlib_config"]
    projects = change["after"]["projects"]
    assert projects["fraud"]["s3_prefix"] == "projects/fraud"
    assert projects["search"]["s3_prefix"] == "teams/search"
    assert projects["fraud"]["dynamodb_table"] == "flowlib-iso-fraud-metadata"
    assert projects["fraud"]["kubernetes_service_account"] is None  # no EKS here
    assert change["after_unknown"]["projects"]["fraud"]["task_role_arn"] is True


def test_overlapping_project_prefixes_fail_the_plan(root_planner: Any) -> None:
    result = root_planner("overlap", {
        **MINIMAL, "environment": "iso", "projects": {"evil": {"s3_prefix": "flowlib/evil"}},
    }, check=False)
    assert result.returncode != 0
    assert "must not contain one another" in result.stdout + result.stderr
    assert "flowlib / flowlib/evil" in result.stdout + result.stderr
