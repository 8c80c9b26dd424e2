variable "name" {
  type        = string
  description = "Name prefix; the table is named <name>-metadata unless table_name is set."
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every resource this module creates."
  default     = {}
}

variable "table_name" {
  type        = string
  description = "Exact DynamoDB table name. Null: <name>-metadata."
  default     = null
}

variable "table_deletion_protection_enabled" {
  type        = bool
  description = "Refuse to delete the table (turn off explicitly, apply, then destroy)."
  default     = true
}

variable "point_in_time_recovery_enabled" {
  type        = bool
  description = "Enable point-in-time recovery (continuous backups, 35 days)."
  default     = true
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key for table encryption (the stack's key from modules/kms, or one made elsewhere)."
}
