variable "name" {
  type        = string
  description = "Name prefix for compute environments, queues, the job definition and the log group."
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every resource this module creates."
  default     = {}
}

variable "vpc_id" {
  type        = string
  description = "VPC the compute environments run in."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (two or more AZs) the compute environments launch instances in."
}

variable "instance_profile_arn" {
  type        = string
  description = "ARN of the ECS container-instance profile (an instance profile, not a role)."
}

variable "job_role_arn" {
  type        = string
  description = "ARN of the job role of the base job definition (flowlib's task role)."
}

variable "execution_role_arn" {
  type        = string
  description = "ARN of the ECS execution role of the base job definition (image pull, logs)."
}

variable "compute_environments" {
  type = map(object({
    type                = optional(string, "EC2")
    gpu                 = optional(bool, false)
    instance_types      = optional(list(string))
    image_type          = optional(string)
    allocation_strategy = optional(string)
    bid_percentage      = optional(number, 100)
    min_vcpus           = optional(number, 0)
    max_vcpus           = optional(number, 64)
    root_volume_size    = optional(number, 100)
    queue_priority      = optional(number, 1)
  }))
  description = "Compute environments, one job queue each, keyed by a short name (cpu, cpu-spot, gpu). type is EC2 or SPOT; min_vcpus 0 means no instance at rest."
  default = {
    cpu = {}
  }

  validation {
    condition     = alltrue([for k, v in var.compute_environments : contains(["EC2", "SPOT"], v.type)])
    error_message = "compute_environments[*].type must be EC2 or SPOT."
  }
}

variable "default_compute_environment" {
  type        = string
  description = "Key of compute_environments whose queue is the default queue. Null: the first key in sorted order."
  default     = null
}

variable "job_state_time_limit_actions" {
  type        = map(number)
  description = "RUNNABLE-state reason -> seconds (600 to 86400) after which a stuck job is cancelled, on every queue."
  default = {
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE" = 600
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"         = 600
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"           = 3600
  }
}

variable "launch_template_http_put_response_hop_limit" {
  type        = number
  description = "IMDSv2 hop limit on instances. 1 keeps containers (bridge networking) away from the instance role's credentials; jobs get theirs from the job role."
  default     = 1
}

variable "job_definition_image" {
  type        = string
  description = "Container image of the base job definition (flowlib overrides image and command per step)."
}

variable "job_definition_vcpus" {
  type        = number
  description = "vCPUs of the base job definition."
  default     = 1
}

variable "job_definition_memory" {
  type        = number
  description = "Memory (MiB) of the base job definition."
  default     = 2048
}

variable "job_definition_attempt_duration_seconds" {
  type        = number
  description = "Timeout of one job attempt, in seconds."
  default     = 86400
}

variable "job_definition_retry_attempts" {
  type        = number
  description = "Attempts per job; retries happen only when the host was lost (for example a Spot reclaim)."
  default     = 2
}

variable "cloudwatch_log_group_retention_in_days" {
  type        = number
  description = "Retention of the job log group, in days."
  default     = 365
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key for the job log group (modules/kms; a key made elsewhere must let CloudWatch Logs use it)."
}

# --- Service role (as terraform-aws-eks: create one, or bring iam_role_arn) ------------------

variable "create_iam_role" {
  type        = bool
  description = "Create the Batch service role. When false, iam_role_arn is used; both null: Batch's service-linked role."
  default     = true
}

variable "iam_role_arn" {
  type        = string
  description = "ARN of an existing Batch service role, used when create_iam_role is false."
  default     = null
}

variable "iam_role_name" {
  type        = string
  description = "Name of the created service role. Null: <name>-batch-service."
  default     = null
}

variable "iam_role_path" {
  type        = string
  description = "Path of the created service role."
  default     = "/"
}

variable "iam_role_permissions_boundary" {
  type        = string
  description = "ARN of the permissions boundary of the created service role."
  default     = null
}

variable "iam_role_tags" {
  type        = map(string)
  description = "Tags of the created service role, merged over tags."
  default     = {}
}
