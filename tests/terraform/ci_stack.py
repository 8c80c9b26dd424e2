"""The environment the moto apply test provisions (tests/terraform/test_terraform_moto_apply.py):
its names, its tfvars (everything on, then only what moto cannot serve turned off, each with
its reason) and the moto-only overrides written into the temporary copy of terraform/."""

from __future__ import annotations

from typing import Any

from tests.terraform.retention_checks import RETENTION_TFVARS

REGION = "us-east-1"
STATE_BUCKET = "flowlib-ci-terraform-state"
STATE_KEY = "flowlib/ci/terraform.tfstate"
ENVIRONMENT = "ci"
NAME = f"flowlib-{ENVIRONMENT}"

# Everything on (VPC with public subnets, NAT, interface endpoints and flow logs; Batch with
# on-demand, Spot and GPU environments; EKS with CPU and GPU node groups; ECR), then only
# the sub-features moto cannot serve are turned off, each with its reason.
CI_TFVARS: dict[str, Any] = {
    "environment": ENVIRONMENT,
    "region": REGION,
    "tags": {"CostCenter": "ci"},
    "create_vpc": True,
    "create_public_subnets": True,
    "enable_nat_gateway": True,
    "enable_interface_endpoints": True,
    "enable_flow_logs": True,
    "enable_batch": True,
    "batch_compute_environments": {
        "cpu": {},
        "cpu-spot": {"type": "SPOT"},
        "gpu": {"gpu": True, "max_vcpus": 16},
    },
    "enable_eks": True,
    "eks_node_groups": {
        "cpu": {"min_size": 1, "desired_size": 1},
        "gpu": {"gpu": True, "instance_types": ["g5.xlarge"]},
    },
    "create_ecr_repository": True,
    "image_tag": "0.1.0",
    # Throw-away environment: let destroy remove data.
    "s3_bucket_force_destroy": True,
    "dynamodb_table_deletion_protection_enabled": False,
    "ecr_repository_force_delete": True,
    # Retention policy, scheduled gc (tests/terraform/retention_checks.py); one isolated
    # project, whose store the scheduled gc collects too.
    **RETENTION_TFVARS,
    "projects": {"vision": {}},
    # --- moto gaps (see terraform/README.md) ---
    # moto drops NewerNoncurrentVersions from lifecycle rules; the provider then waits for
    # ever for the rule it wrote to read back.
    "s3_noncurrent_versions_to_keep": None,
    # moto stores no jobStateTimeLimitActions on job queues (perpetual diff).
    "batch_job_state_time_limit_actions": {},
    # moto has no EKS add-on, access entry or pod identity association API (404), and
    # returns no accessConfig for clusters (perpetual replacement).
    "eks_addons": {},
    "eks_cluster_admin_principal_arns": [],
    "eks_create_pod_identity_association": False,
    "eks_cluster_authentication_mode": None,
}

# moto bugs worked around in the temporary copy only (never in the modules): moto echoes a
# launch template's own tags back as a "launch-template" tag specification of its data, and
# invents a remote_access block (ec2_ssh_key "eksKeypair") for node groups.
MOTO_OVERRIDES = {
    "modules/batch/moto_override.tf": """
resource "aws_launch_template" "this" {
  lifecycle {
    ignore_changes = [tag_specifications]
  }
}
""",
    "modules/eks/moto_override.tf": """
resource "aws_launch_template" "node" {
  lifecycle {
    ignore_changes = [tag_specifications]
  }
}

resource "aws_eks_node_group" "this" {
  lifecycle {
    ignore_changes = [scaling_config[0].desired_size, remote_access]
  }
}
""",
    # moto stores EventBridgeConfiguration but leaves it out of GetBucketNotificationConfiguration.
    "modules/events/moto_override.tf": """
resource "aws_s3_bucket_notification" "this" {
  lifecycle {
    ignore_changes = [eventbridge]
  }
}
""",
}
