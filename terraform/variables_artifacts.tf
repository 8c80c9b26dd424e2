# ---------------------------------------------------------------------------------------------
# Artifacts and metadata
# ---------------------------------------------------------------------------------------------

variable "s3_bucket_name" {
  type        = string
  description = "Exact artifact bucket name. Null: <name>-artifacts-<account id>-<region>."
  default     = null
}

variable "s3_prefix" {
  type        = string
  description = "Key prefix flowlib writes under, no leading or trailing slash. The task role can touch nothing else in the bucket."
  default     = "flowlib"
}

variable "s3_bucket_force_destroy" {
  type        = bool
  description = "Let terraform destroy delete a non-empty artifact bucket. Keep false outside throw-away environments."
  default     = false
}

variable "s3_access_logging_target_bucket" {
  type        = string
  description = "Existing bucket for S3 server access logs of the artifact bucket. Null: no access logging."
  default     = null
}

variable "s3_noncurrent_version_expiration_days" {
  type        = number
  description = "Days after which noncurrent artifact versions are deleted."
  default     = 30
}

variable "s3_noncurrent_versions_to_keep" {
  type        = number
  description = "Newest noncurrent versions of an artifact kept regardless of age. Null: none."
  default     = 3
}

variable "dynamodb_table_name" {
  type        = string
  description = "Exact metadata table name. Null: <name>-metadata."
  default     = null
}

variable "dynamodb_table_deletion_protection_enabled" {
  type        = bool
  description = "Deletion protection on the metadata table."
  default     = true
}

variable "projects" {
  type = map(object({
    s3_prefix = optional(string)
  }))
  description = "Isolated projects (or teams), keyed by name: each gets its own S3 prefix (default projects/<name>), metadata table and task role, so one project's steps cannot write another's artifacts or runs. platform writes a flowlib profile <environment>-<name> for each."
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.projects) : can(regex("^[a-z][a-z0-9-]{0,29}$", name))])
    error_message = "Project names must be 1-30 characters: lowercase letters, digits and dashes, starting with a letter."
  }

  validation {
    condition = alltrue([
      for p in values(var.projects) : p.s3_prefix == null || can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", p.s3_prefix))
    ])
    error_message = "A project's s3_prefix must be non-empty, without leading, trailing or double slashes, using S3's safe characters."
  }
}
