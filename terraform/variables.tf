# Root variables by topic: this file (identity, encryption), variables_network.tf,
# variables_artifacts.tf (artifacts and metadata), variables_iam.tf, variables_compute.tf
# (Batch, EKS), variables_images.tf, variables_deployments.tf (Step Functions, the HTTP
# endpoint, event triggers); retention's are in retention.tf with the rest of that feature.

# ---------------------------------------------------------------------------------------------
# Identity of the stack
# ---------------------------------------------------------------------------------------------

variable "environment" {
  type        = string
  description = "Environment name (dev, prod, ...): part of every resource name and the flowlib profile name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.environment))
    error_message = "environment must be 2-21 characters: lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "AWS region of every resource."
}

variable "name" {
  type        = string
  description = "Name prefix of every resource. Null: flowlib-<environment>."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource (provider default_tags and the tags of resources AWS launches for us, such as instances)."
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# Encryption
# ---------------------------------------------------------------------------------------------

variable "create_kms_key" {
  type        = bool
  description = "Create the stack's KMS key (artifacts, table, logs, EKS secrets, ECR). When false, kms_key_arn is used."
  default     = true
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of an existing KMS key, used when create_kms_key is false. Its policy must allow CloudWatch Logs in this region."
  default     = null
}

variable "cloudwatch_log_group_retention_in_days" {
  type        = number
  description = "Retention of every log group the stack creates (flow logs, Batch jobs, EKS control plane), in days."
  default     = 365
}
