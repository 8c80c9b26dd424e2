variable "create" {
  type        = bool
  description = "Create the Step Functions resources (roles, log group)."
  default     = true
}

variable "name" {
  type        = string
  description = "Name prefix of every resource (the environment's name)."
}

variable "flow_name_prefix" {
  type        = string
  description = "Prefix of the state machines and job definitions flowlib creates for this environment (it names them <environment>-<flow>..., flowlib/remote/stepfunctions/naming.py): the roles may use only those."
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource."
  default     = {}
}

variable "job_queue_arns" {
  type        = list(string)
  description = "Batch job queues state machines may submit to."
}

variable "bucket_arn" {
  type        = string
  description = "Artifact bucket (state machines read foreach items from it)."
}

variable "table_arn" {
  type        = string
  description = "Metadata table (state machines read control records from it)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key of the bucket, the table and the log group."
  default     = null
}

variable "create_iam_role" {
  type        = bool
  description = "Create the Step Functions execution role; false to bring one (iam_role_arn)."
  default     = true
}

variable "iam_role_arn" {
  type        = string
  description = "Existing Step Functions execution role, when create_iam_role is false."
  default     = null
}

variable "iam_role_path" {
  type        = string
  description = "IAM path of the roles this module creates."
  default     = "/"
}

variable "iam_role_permissions_boundary" {
  type        = string
  description = "ARN of the permissions boundary of the roles this module creates; null for none."
  default     = null
}

variable "create_scheduler_role" {
  type        = bool
  description = "Create the EventBridge Scheduler role; false to bring one (scheduler_role_arn)."
  default     = true
}

variable "scheduler_role_arn" {
  type        = string
  description = "Existing EventBridge Scheduler role, when create_scheduler_role is false."
  default     = null
}

variable "cloudwatch_log_group_retention_in_days" {
  type        = number
  description = "Retention of the execution history log group."
  default     = 365
}
