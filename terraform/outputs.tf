# The contract with flowlib: keys are exactly those of flowlib/config/stack_output_schema.json
# (tests/terraform checks it). `platform` turns this object into a flowlib profile.
output "flowlib_config" {
  description = "Everything flowlib needs to use this stack; keys match flowlib/config/stack_output_schema.json, null for disabled features. No secrets."
  value = {
    schema_version             = 1
    environment                = var.environment
    region                     = data.aws_region.current.name
    s3_bucket                  = module.artifacts.bucket_name
    s3_prefix                  = var.s3_prefix
    s3_kms_key_arn             = module.artifacts.kms_key_arn
    dynamodb_table             = module.metadata.table_name
    task_role_arn              = module.iam.task_role_arn
    batch_job_queues           = try(module.batch[0].job_queue_arns, null)
    batch_default_job_queue    = try(module.batch[0].default_job_queue_arn, null)
    batch_job_role_arn         = var.enable_batch ? module.iam.task_role_arn : null
    batch_execution_role_arn   = var.enable_batch ? module.iam.execution_role_arn : null
    eks_cluster_name           = try(module.eks[0].cluster_name, null)
    eks_cluster_endpoint       = try(module.eks[0].cluster_endpoint, null)
    kubernetes_namespace       = var.enable_eks ? var.kubernetes_namespace : null
    kubernetes_service_account = var.enable_eks ? var.kubernetes_service_account : null
    ecr_repository_url         = local.ecr_repository_url
    image                      = local.image
    projects = length(local.projects) == 0 ? null : {
      for name, project in local.projects : name => {
        s3_prefix                  = project.s3_prefix
        dynamodb_table             = module.project_metadata[name].table_name
        task_role_arn              = module.project_iam[name].task_role_arn
        kubernetes_service_account = var.enable_eks ? project.kubernetes_service_account : null
      }
    }
    sfn_role_arn       = try(module.stepfunctions[0].iam_role_arn, null)
    scheduler_role_arn = try(module.stepfunctions[0].scheduler_role_arn, null)
    sfn_log_group_arn  = try(module.stepfunctions[0].cloudwatch_log_group_arn, null)
    http_api_url       = try(module.http_api[0].api_endpoint, null)
    events_role_arn    = try(module.events[0].iam_role_arn, null)
    event_bus_name     = try(module.events[0].event_bus_name, null)
    # Retention (terraform/retention.tf): the gc policy as profile keys, and the scheduled gc.
    retention_keep_last       = module.retention.profile_keys.retention_keep_last
    retention_keep_days       = module.retention.profile_keys.retention_keep_days
    retention_grace_hours     = module.retention.profile_keys.retention_grace_hours
    retention_flow_keep_last  = module.retention.profile_keys.retention_flow_keep_last
    retention_flow_keep_days  = module.retention.profile_keys.retention_flow_keep_days
    retention_gc_schedule_arn = module.retention.gc_schedule_arn
  }
}

# --- for operators ----------------------------------------------------------------------------

output "vpc_id" {
  description = "ID of the VPC (created or brought)."
  value       = module.network.vpc_id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets."
  value       = module.network.private_subnet_ids
}

output "kms_key_arn" {
  description = "ARN of the stack's KMS key (created or given)."
  value       = local.kms_key_arn
}

output "s3_bucket_arn" {
  description = "ARN of the artifact bucket."
  value       = module.artifacts.bucket_arn
}

output "dynamodb_table_arn" {
  description = "ARN of the metadata table."
  value       = module.metadata.table_arn
}

output "batch_job_definition_arn" {
  description = "ARN of the base Batch job definition; null when Batch is off."
  value       = try(module.batch[0].job_definition_arn, null)
}

output "batch_compute_environment_arns" {
  description = "Map of compute environment key to ARN; null when Batch is off."
  value       = try(module.batch[0].compute_environment_arns, null)
}

output "eks_cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the EKS API server (public data); null when EKS is off."
  value       = try(module.eks[0].cluster_certificate_authority_data, null)
}

output "eks_node_group_arns" {
  description = "Map of node group key to ARN; null when EKS is off."
  value       = try(module.eks[0].node_group_arns, null)
}

output "http_api_url" {
  description = "Base URL of the HTTP endpoint (POST <url>/flows/<Flow>/runs), null when off."
  value       = try(module.http_api[0].api_endpoint, null)
}

output "http_api_invoke_policy_json" {
  description = "IAM policy granting execute-api:Invoke on the HTTP endpoint's routes: attach it to the principals that may start flows over HTTP."
  value       = try(module.http_api[0].invoke_policy_json, null)
}

output "event_bus_arn" {
  description = "ARN of the environment's event bus; null when events are off."
  value       = try(module.events[0].event_bus_arn, null)
}
