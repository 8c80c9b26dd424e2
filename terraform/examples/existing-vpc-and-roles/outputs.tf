output "s3_bucket" {
  description = "The artifact bucket (flowlib profile key s3_bucket)."
  value       = module.artifacts.bucket_name
}

output "dynamodb_table" {
  description = "The metadata table (flowlib profile key dynamodb_table)."
  value       = module.metadata.table_name
}

output "batch_job_queue" {
  description = "The default job queue (flowlib profile key batch_job_queue)."
  value       = module.batch.default_job_queue_arn
}

output "batch_service_role_arn" {
  description = "The Batch service role in use: the one given."
  value       = module.batch.iam_role_arn
}
