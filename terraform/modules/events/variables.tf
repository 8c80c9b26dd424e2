variable "create" {
  type        = bool
  description = "Create the events resources (bus, role, task role policies, bucket notifications)."
  default     = true
}

variable "name" {
  type        = string
  description = "Name prefix of every resource (the environment's name); also the event bus's name."
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource."
  default     = {}
}

variable "create_event_bus" {
  type        = bool
  description = "Create an event bus for the environment (named var.name); false to use event_bus_name."
  default     = true
}

variable "event_bus_name" {
  type        = string
  description = "Existing event bus, when create_event_bus is false. Null: the account's default bus."
  default     = null
}

variable "create_iam_role" {
  type        = bool
  description = "Create the role EventBridge starts state machines with; false to bring one (iam_role_arn)."
  default     = true
}

variable "iam_role_arn" {
  type        = string
  description = "Existing role EventBridge starts state machines with, when create_iam_role is false."
  default     = null
}

variable "iam_role_path" {
  type        = string
  description = "Path of the created role."
  default     = "/"
}

variable "iam_role_permissions_boundary" {
  type        = string
  description = "Permissions boundary of the created role."
  default     = null
}

variable "state_machine_name_prefix" {
  type        = string
  description = "Prefix of the state machines flowlib creates for this environment (flowlib names them <environment>-<flow>); the role may start only those."
}

variable "task_role_names" {
  type        = map(string)
  description = "Task roles (static key -> role name) that may publish events (events:PutEvents) on the bus."
  default     = {}
}

variable "s3_bucket_names" {
  type        = map(string)
  description = "Buckets (static key -> bucket name) whose notifications go to EventBridge, for @trigger(s3=...). This module then owns each bucket's whole notification configuration."
  default     = {}
}
