output "compute_environment_arns" {
  description = "Map of compute environment key to compute environment ARN."
  value       = { for k, v in aws_batch_compute_environment.this : k => v.arn }
}

output "job_queue_arns" {
  description = "Map of compute environment key to job queue ARN."
  value       = { for k, v in aws_batch_job_queue.this : k => v.arn }
}

output "default_job_queue_arn" {
  description = "ARN of the default job queue (the queue of default_compute_environment)."
  value       = aws_batch_job_queue.this[local.default_compute_environment].arn
}

output "job_definition_arn" {
  description = "ARN of the base job definition."
  value       = aws_batch_job_definition.this.arn
}

output "job_definition_name" {
  description = "Name of the base job definition."
  value       = aws_batch_job_definition.this.name
}

output "cloudwatch_log_group_name" {
  description = "Name of the job log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "security_group_id" {
  description = "ID of the compute instances' security group."
  value       = aws_security_group.this.id
}

output "launch_template_id" {
  description = "ID of the compute instances' launch template."
  value       = aws_launch_template.this.id
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the job log group (given as kms_key_arn)."
  value       = local.kms_key_arn
}

output "iam_role_arn" {
  description = "ARN of the service role (created or brought)."
  value       = local.iam_role_arn
}

output "iam_role_name" {
  description = "Name of the service role created by this module; null when brought."
  value       = try(module.service_role[0].name, null)
}
