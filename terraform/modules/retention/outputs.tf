output "profile_keys" {
  description = "The retention policy as flowlib profile keys (strings; maps of strings for per-flow overrides; null when unset)."
  value       = local.profile_keys

  precondition {
    condition     = !local.keep_nothing || var.allow_delete_all
    error_message = "This retention policy keeps no run by count or age (retention_keep_last and retention_keep_days are 0 or unset): gc would delete every run that is not pinned, running or the latest successful one. Keep some runs (retention_keep_last > 0 or retention_keep_days > 0), or set retention_allow_delete_all = true if you mean it."
  }

  precondition {
    condition     = length(local.flows_keeping_nothing) == 0 || var.allow_delete_all
    error_message = "retention_flow_policies keeps no run by count or age for: ${join(", ", local.flows_keeping_nothing)}. Give those flows keep_last > 0 or keep_days > 0, or set retention_allow_delete_all = true if you mean it."
  }

  precondition {
    condition     = !var.create_gc_schedule || var.keep_last != null || var.keep_days != null
    error_message = "retention_gc_schedule_enabled needs a retention policy: set retention_keep_last and/or retention_keep_days (a gc without a policy is refused)."
  }

  precondition {
    condition     = !var.create_gc_schedule || var.gc_job_queue_arn != null
    error_message = "retention_gc_schedule_enabled runs gc as a Batch job: set enable_batch = true (or turn the schedule off)."
  }

  precondition {
    condition     = !var.create_gc_schedule || (var.s3_bucket_arn != null && var.region != null && length(var.stores) > 0)
    error_message = "create_gc_schedule needs region, s3_bucket_arn and at least one entry in stores."
  }

  precondition {
    condition     = !var.create_gc_schedule || var.gc_image != null
    error_message = "retention_gc_schedule_enabled needs an image with flowlib installed for the gc job: set image or image_tag (the environment's step image), or retention_gc_image."
  }
}

output "gc_schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule of the gc; null when off."
  value       = try(aws_scheduler_schedule.gc[0].arn, null)
}

output "gc_job_definition_arn" {
  description = "ARN of the gc job definition; null when off."
  value       = try(aws_batch_job_definition.gc[0].arn, null)
}

output "gc_role_arn" {
  description = "ARN of the gc job's role (may delete under the environment's prefixes and in its tables); null when off."
  value       = try(module.gc_role[0].arn, null)
}

output "gc_scheduler_role_arn" {
  description = "ARN of the role EventBridge Scheduler uses to submit the gc job; null when off."
  value       = try(module.scheduler_role[0].arn, null)
}

output "cost_allocation_tag_keys" {
  description = "Tag keys activated as cost-allocation tags (empty when off)."
  value       = sort(keys(aws_ce_cost_allocation_tag.this))
}
