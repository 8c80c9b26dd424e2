output "event_bus_name" {
  description = "Name of the environment's event bus (created, brought, or \"default\"); null when disabled."
  value       = var.create ? local.event_bus_name : null
}

output "event_bus_arn" {
  description = "ARN of the environment's event bus; null when disabled."
  value       = var.create ? local.event_bus_arn : null
}

output "iam_role_arn" {
  description = "Role EventBridge starts state machines with (created or brought); null when disabled."
  value       = var.create ? (local.create_role ? module.role[0].arn : var.iam_role_arn) : null
}

output "s3_bucket_names" {
  description = "Buckets whose notifications go to EventBridge."
  value       = var.create ? values(var.s3_bucket_names) : []
}
