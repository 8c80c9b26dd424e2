variable "name" {
  type        = string
  description = "Name prefix for every role and instance profile."
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every resource this module creates."
  default     = {}
}

variable "iam_role_path" {
  type        = string
  description = "Path of every role and instance profile this module creates."
  default     = "/"
}

variable "iam_role_permissions_boundary" {
  type        = string
  description = "ARN of a permissions boundary attached to every role this module creates."
  default     = null
}

# --- what the task role may touch -----------------------------------------------------------

variable "s3_bucket_arn" {
  type        = string
  description = "ARN of the artifact bucket the task role reads and writes (under s3_prefix only)."
}

variable "s3_prefix" {
  type        = string
  description = "Key prefix (no leading or trailing slash) the task role may read, write and list."

  validation {
    condition     = length(var.s3_prefix) > 0 && !startswith(var.s3_prefix, "/") && !endswith(var.s3_prefix, "/")
    error_message = "s3_prefix must be non-empty, with no leading or trailing slash."
  }
}

variable "dynamodb_table_arn" {
  type        = string
  description = "ARN of the metadata table the task role reads and writes (and its indexes)."
}

variable "kms_key_arns" {
  type        = list(string)
  description = "KMS keys the task role may use through S3 and DynamoDB (the artifact and table keys)."
}

# --- task role (Batch jobs and EKS pods through Pod Identity) ------------------------------

variable "create_task_role" {
  type        = bool
  description = "Create the task role. When false, task_role_arn is used."
  default     = true
}

variable "task_role_arn" {
  type        = string
  description = "ARN of an existing task role, used when create_task_role is false."
  default     = null
}

variable "task_role_trust_eks_pod_identity" {
  type        = bool
  description = "Let EKS Pod Identity (pods.eks.amazonaws.com) assume the task role, so it doubles as the pod identity role."
  default     = true
}

# --- Batch roles -----------------------------------------------------------------------------

variable "create_batch_roles" {
  type        = bool
  description = "Create the ECS instance role and profile and the job execution role (each can still be brought instead). The Batch service role is modules/batch's."
  default     = true
}

variable "create_ecs_instance_role" {
  type        = bool
  description = "Create the ECS container-instance role and instance profile. When false, ecs_instance_profile_arn is used."
  default     = true
}

variable "ecs_instance_profile_arn" {
  type        = string
  description = "ARN of an existing ECS instance profile, used when create_ecs_instance_role is false."
  default     = null
}

variable "create_execution_role" {
  type        = bool
  description = "Create the ECS job execution role (image pull, log delivery). When false, execution_role_arn is used."
  default     = true
}

variable "execution_role_arn" {
  type        = string
  description = "ARN of an existing job execution role, used when create_execution_role is false."
  default     = null
}

# --- EKS roles -------------------------------------------------------------------------------

variable "create_eks_roles" {
  type        = bool
  description = "Create the EKS node role (or bring it). The cluster role is modules/eks's."
  default     = true
}

variable "create_eks_node_role" {
  type        = bool
  description = "Create the EKS node role. When false, eks_node_role_arn is used."
  default     = true
}

variable "eks_node_role_arn" {
  type        = string
  description = "ARN of an existing EKS node role, used when create_eks_node_role is false."
  default     = null
}

# --- task role: @secrets (secrets.tf) ------------------------------------------------------

variable "task_secrets_enabled" {
  type        = bool
  description = "Let the task role read the environment's secrets (Secrets Manager <secrets_prefix>/*, Parameter Store /<secrets_prefix>/*) and decrypt them with secrets_kms_key_arn."
  default     = true
}

variable "secrets_prefix" {
  type        = string
  description = "Name prefix of the environment's secrets and parameters, without slashes at either end (flowlib/<environment>)."
  default     = null

  validation {
    condition     = var.secrets_prefix == null || can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.secrets_prefix))
    error_message = "secrets_prefix must be a path such as flowlib/dev, with no leading or trailing slash."
  }
}

variable "secrets_kms_key_arn" {
  type        = string
  description = "KMS key the environment's secrets are encrypted with (the key `platform secrets set` uses); the task role may decrypt with it through Secrets Manager and SSM only."
  default     = null
}
