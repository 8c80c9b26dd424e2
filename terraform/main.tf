data "aws_region" "current" {}

locals {
  name = coalesce(var.name, "flowlib-${var.environment}")

  tags = merge(
    {
      Project     = "flowlib"
      Environment = var.environment
      ManagedBy   = "terraform"
    },
    var.tags,
  )

  kms_key_arn = var.create_kms_key ? module.kms[0].key_arn : var.kms_key_arn

  ecr_repository_url = try(module.ecr[0].repository_url, null)
  image = (
    var.image != null ? var.image
    : local.ecr_repository_url != null && var.image_tag != null ? "${local.ecr_repository_url}:${var.image_tag}"
    : null
  )
}

module "network" {
  source = "./modules/network"

  name = local.name
  tags = local.tags

  create_vpc              = var.create_vpc
  vpc_id                  = var.vpc_id
  private_subnet_ids      = var.private_subnet_ids
  vpc_cidr_block          = var.vpc_cidr_block
  availability_zone_count = var.availability_zone_count

  create_public_subnets       = var.create_public_subnets
  enable_nat_gateway          = var.enable_nat_gateway
  single_nat_gateway          = var.single_nat_gateway
  enable_interface_endpoints  = var.enable_interface_endpoints
  interface_endpoint_services = var.interface_endpoint_services

  enable_flow_logs                       = var.enable_flow_logs
  cloudwatch_log_group_retention_in_days = var.cloudwatch_log_group_retention_in_days
  kms_key_arn                            = local.kms_key_arn

  iam_role_path                 = var.iam_role_path
  iam_role_permissions_boundary = var.iam_role_permissions_boundary
}

module "artifacts" {
  source = "./modules/artifacts"

  name = local.name
  tags = local.tags

  bucket_name                        = var.s3_bucket_name
  bucket_force_destroy               = var.s3_bucket_force_destroy
  access_logging_target_bucket       = var.s3_access_logging_target_bucket
  noncurrent_version_expiration_days = var.s3_noncurrent_version_expiration_days
  noncurrent_versions_to_keep        = var.s3_noncurrent_versions_to_keep
  kms_key_arn                        = local.kms_key_arn
}

module "metadata" {
  source = "./modules/metadata"

  name = local.name
  tags = local.tags

  table_name                        = var.dynamodb_table_name
  table_deletion_protection_enabled = var.dynamodb_table_deletion_protection_enabled
  kms_key_arn                       = local.kms_key_arn
}

module "iam" {
  source = "./modules/iam"

  name = local.name
  tags = local.tags

  iam_role_path                 = var.iam_role_path
  iam_role_permissions_boundary = var.iam_role_permissions_boundary

  s3_bucket_arn      = module.artifacts.bucket_arn
  s3_prefix          = var.s3_prefix
  dynamodb_table_arn = module.metadata.table_arn
  kms_key_arns       = distinct([module.artifacts.kms_key_arn, module.metadata.kms_key_arn])

  # @secrets: the environment's own prefix, encrypted with the key `platform secrets` uses.
  secrets_prefix      = "flowlib/${var.environment}"
  secrets_kms_key_arn = module.artifacts.kms_key_arn

  create_task_role                 = var.task_role_arn == null
  task_role_arn                    = var.task_role_arn
  task_role_trust_eks_pod_identity = var.enable_eks

  create_batch_roles       = var.enable_batch
  create_ecs_instance_role = var.batch_instance_profile_arn == null
  ecs_instance_profile_arn = var.batch_instance_profile_arn
  create_execution_role    = var.batch_execution_role_arn == null
  execution_role_arn       = var.batch_execution_role_arn

  create_eks_roles     = var.enable_eks
  create_eks_node_role = var.eks_node_role_arn == null
  eks_node_role_arn    = var.eks_node_role_arn
}

module "batch" {
  source = "./modules/batch"
  count  = var.enable_batch ? 1 : 0

  name = local.name
  tags = local.tags

  vpc_id                        = module.network.vpc_id
  subnet_ids                    = module.network.private_subnet_ids
  create_iam_role               = var.batch_service_role_arn == null
  iam_role_arn                  = var.batch_service_role_arn
  iam_role_path                 = var.iam_role_path
  iam_role_permissions_boundary = var.iam_role_permissions_boundary
  instance_profile_arn          = module.iam.ecs_instance_profile_arn
  job_role_arn                  = module.iam.task_role_arn
  execution_role_arn            = module.iam.execution_role_arn
  compute_environments          = var.batch_compute_environments
  default_compute_environment   = var.batch_default_compute_environment
  job_state_time_limit_actions  = var.batch_job_state_time_limit_actions
  job_definition_image          = coalesce(local.image, var.batch_job_definition_image)

  cloudwatch_log_group_retention_in_days = var.cloudwatch_log_group_retention_in_days
  kms_key_arn                            = local.kms_key_arn
}

module "eks" {
  source = "./modules/eks"
  count  = var.enable_eks ? 1 : 0

  name = local.name
  tags = local.tags

  kubernetes_version                   = var.eks_kubernetes_version
  vpc_id                               = module.network.vpc_id
  subnet_ids                           = module.network.private_subnet_ids
  create_iam_role                      = var.eks_cluster_role_arn == null
  iam_role_arn                         = var.eks_cluster_role_arn
  iam_role_path                        = var.iam_role_path
  iam_role_permissions_boundary        = var.iam_role_permissions_boundary
  node_role_arn                        = module.iam.eks_node_role_arn
  cluster_endpoint_public_access       = var.eks_cluster_endpoint_public_access
  cluster_endpoint_public_access_cidrs = var.eks_cluster_endpoint_public_access_cidrs
  cluster_authentication_mode          = var.eks_cluster_authentication_mode
  cluster_admin_principal_arns         = var.eks_cluster_admin_principal_arns
  node_groups                          = var.eks_node_groups
  addons                               = var.eks_addons

  create_pod_identity_association = var.eks_create_pod_identity_association
  pod_identity_role_arn           = module.iam.task_role_arn
  kubernetes_namespace            = var.kubernetes_namespace
  kubernetes_service_account      = var.kubernetes_service_account

  cloudwatch_log_group_retention_in_days = var.cloudwatch_log_group_retention_in_days
  kms_key_arn                            = local.kms_key_arn
}

module "ecr" {
  source = "./modules/ecr"
  count  = var.create_ecr_repository ? 1 : 0

  name = coalesce(var.ecr_repository_name, "${local.name}/step")
  tags = local.tags

  repository_force_delete = var.ecr_repository_force_delete
  kms_key_arn             = local.kms_key_arn
}

module "stepfunctions" {
  source = "./modules/stepfunctions"
  count  = var.enable_step_functions && var.enable_batch ? 1 : 0

  name             = local.name
  tags             = local.tags
  flow_name_prefix = "${var.environment}-"

  job_queue_arns = values(try(module.batch[0].job_queue_arns, {}))
  bucket_arn     = module.artifacts.bucket_arn
  table_arn      = module.metadata.table_arn
  kms_key_arn    = local.kms_key_arn

  create_iam_role               = var.sfn_role_arn == null
  iam_role_arn                  = var.sfn_role_arn
  iam_role_path                 = var.iam_role_path
  iam_role_permissions_boundary = var.iam_role_permissions_boundary
  create_scheduler_role         = var.scheduler_role_arn == null
  scheduler_role_arn            = var.scheduler_role_arn

  cloudwatch_log_group_retention_in_days = var.cloudwatch_log_group_retention_in_days
}

# The HTTP endpoint (issue 12): needs the Step Functions deployments it starts, and the Lambda
# package `platform` builds before apply (http_api_package_path); see modules/http_api.
module "http_api" {
  source = "./modules/http_api"
  count  = local.http_api_enabled ? 1 : 0

  name        = local.name
  tags        = local.tags
  environment = var.environment

  package_path = var.http_api_package_path
  runtime      = var.http_api_runtime
  architecture = var.http_api_architecture

  bucket_arn  = module.artifacts.bucket_arn
  bucket_name = module.artifacts.bucket_name
  s3_prefix   = var.s3_prefix
  table_arn   = module.metadata.table_arn
  table_name  = module.metadata.table_name
  kms_key_arn = local.kms_key_arn

  iam_role_path                 = var.iam_role_path
  iam_role_permissions_boundary = var.iam_role_permissions_boundary

  cloudwatch_log_group_retention_in_days = var.cloudwatch_log_group_retention_in_days
}

locals {
  http_api_enabled = var.enable_http_api && var.enable_step_functions && var.enable_batch && var.http_api_package_path != null
}

check "http_api_package" {
  assert {
    condition     = !(var.enable_http_api && var.enable_step_functions && var.enable_batch) || var.http_api_package_path != null
    error_message = "enable_http_api is on but http_api_package_path is null, so no HTTP endpoint is created: `platform apply` builds the package and sets it; with plain terraform run `platform http-api package` and pass -var http_api_package_path=<zip>."
  }
}

# Events (@trigger, @trigger_on_finish, @trigger(s3=...), Event.publish). State machines are
# named <environment>-<flow> by flowlib (flowlib/remote/stepfunctions/naming.py).
module "events" {
  source = "./modules/events"
  count  = var.enable_events ? 1 : 0

  name = local.name
  tags = local.tags

  create_event_bus              = var.events_create_event_bus
  event_bus_name                = var.events_event_bus_name
  create_iam_role               = var.events_role_arn == null
  iam_role_arn                  = var.events_role_arn
  iam_role_path                 = var.iam_role_path
  iam_role_permissions_boundary = var.iam_role_permissions_boundary
  state_machine_name_prefix     = "${var.environment}-"

  # Brought task roles are the owner's to grant events:PutEvents.
  task_role_names = merge(
    var.task_role_arn == null ? { shared = module.iam.task_role_name } : {},
    { for name, _ in local.projects : "project-${name}" => module.project_iam[name].task_role_name },
  )
  s3_bucket_names = merge(
    var.s3_bucket_eventbridge_notifications ? { artifacts = module.artifacts.bucket_name } : {},
    { for bucket in var.s3_event_buckets : bucket => bucket },
  )
}
