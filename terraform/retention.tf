# ---------------------------------------------------------------------------------------------
# Artifact retention and cost (modules/retention): the gc policy written into the flowlib
# profiles (flowlib_config.retention_*), an optional scheduled gc (EventBridge Scheduler ->
# Batch job with a role that may delete), and the activation of flowlib's cost-allocation tags.
# Variables live here rather than in variables.tf so that this feature is one file to read.
# ---------------------------------------------------------------------------------------------

variable "retention_keep_last" {
  type        = number
  description = "gc keeps the last N runs of each flow and @project branch. Null: no count rule. With no policy at all, gc refuses to run."
  default     = null

  validation {
    condition     = var.retention_keep_last == null || try(var.retention_keep_last >= 0 && floor(var.retention_keep_last) == var.retention_keep_last, false)
    error_message = "retention_keep_last must be a whole number >= 0 (or null for no count rule)."
  }
}

variable "retention_keep_days" {
  type        = number
  description = "gc keeps runs younger than this many days. Null: no age rule."
  default     = null

  validation {
    condition     = var.retention_keep_days == null || try(var.retention_keep_days >= 0, false)
    error_message = "retention_keep_days must be >= 0 (or null for no age rule)."
  }
}

variable "retention_grace_hours" {
  type        = number
  description = "gc deletes only blobs written more than this many hours ago; choose more than your longest run. Null: flowlib's default, 168 (7 days)."
  default     = null

  validation {
    condition     = var.retention_grace_hours == null || try(var.retention_grace_hours >= 1, false)
    error_message = "retention_grace_hours must be at least 1: a blob a running task has just stored or deduplicated against must outlive the gc (choose more than your longest run; null means flowlib's 168)."
  }
}

variable "retention_flow_policies" {
  type = map(object({
    keep_last = optional(number)
    keep_days = optional(number)
  }))
  description = "Per-flow overrides of retention_keep_last / retention_keep_days, by flow name, e.g. { TrainFlow = { keep_last = 50 } }."
  default     = {}

  validation {
    condition = alltrue([
      for p in values(var.retention_flow_policies) :
      (p.keep_last == null || try(p.keep_last >= 0 && floor(p.keep_last) == p.keep_last, false))
      && (p.keep_days == null || try(p.keep_days >= 0, false))
    ])
    error_message = "retention_flow_policies: keep_last must be a whole number >= 0 and keep_days >= 0."
  }

  validation {
    condition     = alltrue([for flow in keys(var.retention_flow_policies) : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", flow))])
    error_message = "retention_flow_policies keys must be flow names (the flow class's name, e.g. TrainFlow)."
  }
}

variable "retention_allow_delete_all" {
  type        = bool
  description = "Allow a policy that keeps no run by count or age (retention_keep_last = 0 and no retention_keep_days): gc then deletes every run not pinned, running or the latest successful one. The scheduled gc passes --delete-all."
  default     = false
}

variable "retention_gc_schedule_enabled" {
  type        = bool
  description = "Run `flowlib gc --yes` on a schedule as a Batch job on the environment's queue (needs enable_batch and a policy). Off by default: turning it on deletes data."
  default     = false
}

variable "retention_gc_schedule_expression" {
  type        = string
  description = "When the scheduled gc runs: an EventBridge Scheduler cron(...) or rate(...) expression."
  default     = "cron(0 3 * * ? *)"

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.retention_gc_schedule_expression))
    error_message = "retention_gc_schedule_expression must be cron(...) or rate(...), e.g. \"cron(0 3 * * ? *)\" (daily at 03:00) or \"rate(12 hours)\"."
  }
}

variable "retention_gc_schedule_timezone" {
  type        = string
  description = "Time zone of retention_gc_schedule_expression (IANA name, e.g. Europe/Paris)."
  default     = "UTC"
}

variable "retention_gc_job_queue" {
  type        = string
  description = "Key of batch_compute_environments whose queue runs the gc job. Null: batch_default_compute_environment's."
  default     = null
}

variable "retention_gc_image" {
  type        = string
  description = "Image of the gc job; it must have flowlib (with boto3) importable. Null: the environment's step image (image, or the ECR repository and image_tag)."
  default     = null
}

variable "retention_gc_pip_requirements" {
  type        = string
  description = "pip requirement(s) the gc job installs first, for an image without flowlib (e.g. \"flowlib[aws]==0.1.0\" from your package index; needs outbound access to it). Null: none."
  default     = null
}

variable "retention_gc_attempt_duration_seconds" {
  type        = number
  description = "Timeout of one scheduled gc; a gc stopped halfway leaves a consistent store and the next run finishes it."
  default     = 21600

  validation {
    condition     = var.retention_gc_attempt_duration_seconds >= 60
    error_message = "retention_gc_attempt_duration_seconds must be at least 60 (AWS Batch's minimum)."
  }
}

variable "activate_cost_allocation_tags" {
  type        = bool
  description = "Activate flowlib's cost-allocation tags (cost_allocation_tag_keys) in AWS Billing. Only from the payer (management) account and only once AWS has seen each key in billing data (up to 24 h after the first tagged job): off by default, see the README."
  default     = false
}

variable "cost_allocation_tag_keys" {
  type        = list(string)
  description = "Tag keys to activate. Null: flowlib's Batch job tags (flowlib:flow, :run, :step, :project, :user) and, with enable_eks, its pod labels (flowlib/flow, ...; they reach billing through EKS split cost allocation data)."
  default     = null

  validation {
    condition     = var.cost_allocation_tag_keys == null || alltrue([for k in coalesce(var.cost_allocation_tag_keys, []) : length(k) >= 1 && length(k) <= 128])
    error_message = "cost_allocation_tag_keys must be tag keys of 1 to 128 characters."
  }
}

locals {
  cost_allocation_tag_fields = ["flow", "run", "step", "project", "user"]
  cost_allocation_tag_keys = var.cost_allocation_tag_keys != null ? var.cost_allocation_tag_keys : concat(
    [for f in local.cost_allocation_tag_fields : "flowlib:${f}"],
    var.enable_eks ? [for f in local.cost_allocation_tag_fields : "flowlib/${f}"] : [],
  )
  batch_job_queues = try(module.batch[0].job_queue_arns, {})
  gc_job_queue_arn = (
    var.retention_gc_job_queue != null ? lookup(local.batch_job_queues, var.retention_gc_job_queue, null)
    : try(module.batch[0].default_job_queue_arn, null)
  )
}

module "retention" {
  source = "./modules/retention"

  name        = local.name
  environment = var.environment
  tags        = local.tags

  keep_last        = var.retention_keep_last
  keep_days        = var.retention_keep_days
  grace_hours      = var.retention_grace_hours
  flow_policies    = var.retention_flow_policies
  allow_delete_all = var.retention_allow_delete_all

  create_gc_schedule          = var.retention_gc_schedule_enabled
  gc_schedule_expression      = var.retention_gc_schedule_expression
  gc_schedule_timezone        = var.retention_gc_schedule_timezone
  gc_job_queue_arn            = local.gc_job_queue_arn
  gc_image                    = try(coalesce(var.retention_gc_image, local.image, var.retention_gc_pip_requirements == null ? null : var.batch_job_definition_image), null)
  gc_pip_requirements         = var.retention_gc_pip_requirements
  gc_attempt_duration_seconds = var.retention_gc_attempt_duration_seconds
  execution_role_arn          = module.iam.execution_role_arn
  cloudwatch_log_group_name   = try(module.batch[0].cloudwatch_log_group_name, null)

  region         = data.aws_region.current.name
  s3_bucket_arn  = module.artifacts.bucket_arn
  s3_kms_key_arn = module.artifacts.kms_key_arn
  stores = merge(
    {
      (var.environment) = {
        s3_prefix          = var.s3_prefix
        dynamodb_table     = module.metadata.table_name
        dynamodb_table_arn = module.metadata.table_arn
      }
    },
    {
      for name, project in local.projects : "${var.environment}-${name}" => {
        s3_prefix          = project.s3_prefix
        dynamodb_table     = module.project_metadata[name].table_name
        dynamodb_table_arn = module.project_metadata[name].table_arn
      }
    },
  )

  iam_role_path                 = var.iam_role_path
  iam_role_permissions_boundary = var.iam_role_permissions_boundary

  activate_cost_allocation_tags = var.activate_cost_allocation_tags
  cost_allocation_tag_keys      = local.cost_allocation_tag_keys
}

output "retention_gc" {
  description = "The scheduled gc (null values when retention_gc_schedule_enabled is false) and the activated cost-allocation tag keys."
  value = {
    schedule_arn             = module.retention.gc_schedule_arn
    job_definition_arn       = module.retention.gc_job_definition_arn
    job_queue_arn            = var.retention_gc_schedule_enabled ? local.gc_job_queue_arn : null
    role_arn                 = module.retention.gc_role_arn
    scheduler_role_arn       = module.retention.gc_scheduler_role_arn
    cost_allocation_tag_keys = module.retention.cost_allocation_tag_keys
  }

  precondition {
    condition     = var.retention_gc_job_queue == null || contains(keys(var.batch_compute_environments), coalesce(var.retention_gc_job_queue, "-"))
    error_message = "retention_gc_job_queue must be a key of batch_compute_environments (${join(", ", sort(keys(var.batch_compute_environments)))})."
  }
}
