variable "name" {
  type        = string
  description = "Name prefix of every resource (flowlib-<environment>)."
}

variable "environment" {
  type        = string
  description = "Environment name: the flowlib profile the scheduled gc runs with."
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource."
  default     = {}
}

# --- the policy (also written into the flowlib profile by the root stack) --------------------

variable "keep_last" {
  type        = number
  description = "gc keeps the last N runs per flow and @project branch; null: no count rule."
  default     = null
}

variable "keep_days" {
  type        = number
  description = "gc keeps runs younger than D days; null: no age rule."
  default     = null
}

variable "grace_hours" {
  type        = number
  description = "gc deletes only blobs older than this many hours; null: flowlib's default (168)."
  default     = null
}

variable "flow_policies" {
  type = map(object({
    keep_last = optional(number)
    keep_days = optional(number)
  }))
  description = "Per-flow overrides of keep_last / keep_days, by flow name."
  default     = {}
}

variable "allow_delete_all" {
  type        = bool
  description = "Allow a policy that keeps no run by count or age (keep_last = 0 and no keep_days)."
  default     = false
}

# --- the scheduled gc ------------------------------------------------------------------------

variable "create_gc_schedule" {
  type        = bool
  description = "Create the EventBridge Scheduler schedule, the Batch job definition and the roles of the scheduled gc."
  default     = false
}

variable "gc_schedule_expression" {
  type        = string
  description = "When the gc runs: an EventBridge Scheduler cron(...) or rate(...) expression."
  default     = "cron(0 3 * * ? *)"
}

variable "gc_schedule_timezone" {
  type        = string
  description = "Time zone of gc_schedule_expression (IANA name)."
  default     = "UTC"
}

variable "gc_job_queue_arn" {
  type        = string
  description = "Batch job queue the gc job is submitted to (the environment's default queue)."
  default     = null
}

variable "gc_image" {
  type        = string
  description = "Container image of the gc job; it must have flowlib (with boto3) importable, or gc_pip_requirements set."
  default     = null
}

variable "gc_pip_requirements" {
  type        = string
  description = "pip requirement(s) installed before gc runs, for an image without flowlib (e.g. 'flowlib[aws]==0.1.0' from your index); null: none."
  default     = null
}

variable "gc_vcpus" {
  type        = number
  description = "vCPUs of the gc job."
  default     = 1
}

variable "gc_memory" {
  type        = number
  description = "Memory (MiB) of the gc job."
  default     = 2048
}

variable "gc_attempt_duration_seconds" {
  type        = number
  description = "Timeout of one gc run; a gc stopped halfway is safe and the next run finishes it."
  default     = 21600
}

variable "execution_role_arn" {
  type        = string
  description = "ECS execution role of the gc job (pulls the image, writes the logs)."
  default     = null
}

variable "cloudwatch_log_group_name" {
  type        = string
  description = "Log group of the gc job's output (the environment's Batch log group)."
  default     = null
}

variable "region" {
  type        = string
  description = "Region of the stores (written into the gc job's profile); needed with create_gc_schedule."
  default     = null
}

variable "s3_bucket_arn" {
  type        = string
  description = "ARN of the artifact bucket; needed with create_gc_schedule."
  default     = null
}

variable "s3_kms_key_arn" {
  type        = string
  description = "KMS key of the bucket and tables (SSE-KMS), or null."
  default     = null
}

variable "stores" {
  type = map(object({
    s3_prefix          = string
    dynamodb_table     = string
    dynamodb_table_arn = string
  }))
  description = "The stores gc collects, by flowlib profile name: the environment's own and each isolated project's."
  default     = {}
}

variable "iam_role_path" {
  type        = string
  description = "Path of the IAM roles."
  default     = "/"
}

variable "iam_role_permissions_boundary" {
  type        = string
  description = "Permissions boundary of the IAM roles, or null."
  default     = null
}

# --- cost-allocation tags --------------------------------------------------------------------

variable "activate_cost_allocation_tags" {
  type        = bool
  description = "Activate cost_allocation_tag_keys in Billing (payer account only, and only once AWS has seen each key in billing data: see the README)."
  default     = false
}

variable "cost_allocation_tag_keys" {
  type        = list(string)
  description = "Tag keys to activate as cost-allocation tags."
  default     = []
}
