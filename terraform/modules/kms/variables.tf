variable "name" {
  type        = string
  description = "Name of the stack; the key's alias is alias/<name> and its description starts with <name>:."
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every resource this module creates."
  default     = {}
}

variable "description" {
  type        = string
  description = "What the key encrypts, after \"<name>: \" in the key's description."
  default     = "artifacts, metadata, logs, EKS secrets, images"
}

variable "deletion_window_in_days" {
  type        = number
  description = "Days a deleted key waits before AWS removes it (7-30); data encrypted with it is unreadable after that."
  default     = 30
}

variable "create_alias" {
  type        = bool
  description = "Create the alias alias/<name>."
  default     = true
}

variable "cloudwatch_logs_enabled" {
  type        = bool
  description = "Let CloudWatch Logs of this account and region use the key (log groups encrypted with it)."
  default     = true
}
