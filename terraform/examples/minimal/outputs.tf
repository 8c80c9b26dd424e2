output "s3_bucket" {
  description = "The artifact bucket (flowlib profile key s3_bucket)."
  value       = module.artifacts.bucket_name
}

output "dynamodb_table" {
  description = "The metadata table (flowlib profile key dynamodb_table)."
  value       = module.metadata.table_name
}

output "kms_key_arn" {
  description = "The key encrypting both (flowlib profile key s3_kms_key_arn)."
  value       = module.kms.key_arn
}

output "task_role_arn" {
  description = "The role steps run as, where they run on AWS."
  value       = module.iam.task_role_arn
}
