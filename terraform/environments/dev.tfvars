# Development: cheap at rest. Costs at rest (us-east-1): the stack's KMS key (1 USD/month),
# S3, DynamoDB on demand and CloudWatch Logs storage pay per use; Batch min vCPUs are 0.
# No NAT gateway and no interface endpoints: the private subnets only reach S3 and DynamoDB
# (free gateway endpoints). To run Batch jobs in dev, turn on create_public_subnets +
# enable_nat_gateway (about 32 USD/month plus data) while you need them, or see README.md.
#
#   terraform init -backend-config=environments/dev.s3.tfbackend
#   terraform apply -var-file=environments/dev.tfvars

environment = "dev"
region      = "us-east-1"

tags = {
  CostCenter = "ml-platform-dev"
}

create_vpc                 = true
vpc_cidr_block             = "10.20.0.0/16"
availability_zone_count    = 2
create_public_subnets      = false
enable_nat_gateway         = false
enable_interface_endpoints = false
enable_flow_logs           = true

cloudwatch_log_group_retention_in_days = 30

s3_prefix                                  = "flowlib"
dynamodb_table_deletion_protection_enabled = true

enable_batch = true
batch_compute_environments = {
  cpu      = { max_vcpus = 32 }
  cpu-spot = { type = "SPOT", max_vcpus = 64 }
}
batch_default_compute_environment = "cpu-spot"

enable_eks = false

create_ecr_repository = true
image_tag             = null
