output "iam_role_arn" {
  description = "Step Functions execution role (created or brought); null when disabled."
  value       = var.create ? (local.create_role ? module.sfn_role[0].arn : var.iam_role_arn) : null
}

output "scheduler_role_arn" {
  description = "EventBridge Scheduler role (created or brought); null when disabled."
  value       = var.create ? (local.create_scheduler ? module.scheduler_role[0].arn : var.scheduler_role_arn) : null
}

output "cloudwatch_log_group_arn" {
  description = "Log group of execution history; null when disabled."
  value       = try(aws_cloudwatch_log_group.this[0].arn, null)
}

output "cloudwatch_log_group_name" {
  description = "Name of the execution history log group; null when disabled."
  value       = try(aws_cloudwatch_log_group.this[0].name, null)
}
