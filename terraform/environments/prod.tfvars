# Production: zone-resilient egress, private endpoints for AWS APIs, EKS on.
# At rest: NAT gateways (2 x ~32 USD/month plus data), 8 interface endpoints x 2 AZs
# (~117 USD/month), EKS control plane (~73 USD/month) plus the system node group, KMS key
# (1 USD/month); Batch compute environments have min vCPUs 0.
#
#   terraform init -backend-config=environments/prod.s3.tfbackend
#   terraform apply -var-file=environments/prod.tfvars

environment = "prod"
region      = "us-east-1"

tags = {
  CostCenter = "ml-platform"
}

create_vpc                 = true
vpc_cidr_block             = "10.30.0.0/16"
availability_zone_count    = 3
create_public_subnets      = true
enable_nat_gateway         = true
single_nat_gateway         = false
enable_interface_endpoints = true
enable_flow_logs           = true

cloudwatch_log_group_retention_in_days = 365

s3_prefix                                  = "flowlib"
dynamodb_table_deletion_protection_enabled = true

iam_role_path = "/flowlib/"

enable_batch = true
batch_compute_environments = {
  cpu      = { max_vcpus = 256 }
  cpu-spot = { type = "SPOT", max_vcpus = 512 }
  gpu      = { gpu = true, max_vcpus = 64 }
}
batch_default_compute_environment = "cpu"

enable_eks                         = true
eks_cluster_endpoint_public_access = false
eks_cluster_admin_principal_arns = [
  "arn:aws:iam::111122223333:role/platform-admin",
]
eks_node_groups = {
  system = { instance_types = ["m6i.large"], min_size = 2, max_size = 4, desired_size = 2 }
  cpu    = { instance_types = ["m6i.2xlarge", "m6a.2xlarge"], min_size = 0, max_size = 20 }
  gpu    = { gpu = true, instance_types = ["g5.xlarge", "g5.2xlarge"], min_size = 0, max_size = 8 }
}

create_ecr_repository = true
image_tag             = "0.1.0"

# Retention: the policy `flowlib gc` / `platform gc prod` apply (written into the profile).
# Nothing is deleted until someone runs gc, or the schedule below is turned on.
retention_keep_last = 100
retention_keep_days = 90
# retention_gc_schedule_enabled = true   # nightly gc as a Batch job (terraform/README.md)
# activate_cost_allocation_tags = true   # payer account only, after the first tagged jobs
