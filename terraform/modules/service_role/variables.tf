variable "name" {
  type        = string
  description = "The role's name."
}

variable "description" {
  type        = string
  description = "What the role is for (shown in the IAM console)."
  default     = null
}

variable "trust" {
  type = list(object({
    service           = string
    sid               = optional(string)
    actions           = optional(list(string), ["sts:AssumeRole"])
    this_account_only = optional(bool, true)
  }))
  description = "The services that may assume the role, one trust statement each: service principal (e.g. states.amazonaws.com), optional statement id, actions (default sts:AssumeRole), and whether only this account's resources may make the service assume it (aws:SourceAccount; default true; false for services that do not send it, such as ec2.amazonaws.com)."

  validation {
    condition     = length(var.trust) > 0 && alltrue([for t in var.trust : endswith(t.service, ".amazonaws.com")])
    error_message = "trust needs at least one statement, and each service must be a service principal such as states.amazonaws.com."
  }
}

variable "path" {
  type        = string
  description = "IAM path of the role."
  default     = "/"
}

variable "permissions_boundary" {
  type        = string
  description = "ARN of the permissions boundary policy of the role; null for none."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags of the role."
  default     = {}
}
