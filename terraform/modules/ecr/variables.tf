variable "name" {
  type        = string
  description = "Repository name (for example <environment>/flowlib-step)."
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every resource this module creates."
  default     = {}
}

variable "repository_force_delete" {
  type        = bool
  description = "Let terraform destroy delete the repository even if it holds images."
  default     = false
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key for repository encryption (the stack's key from modules/kms, or one made elsewhere)."
}

variable "lifecycle_untagged_expire_days" {
  type        = number
  description = "Days after which untagged images are expired."
  default     = 7
}

variable "lifecycle_tagged_keep_count" {
  type        = number
  description = "Number of most recent tagged images kept; older ones are expired."
  default     = 50
}
