# ---------------------------------------------------------------------------------------------
# IAM (each *_arn set means: bring that role, do not create it)
# ---------------------------------------------------------------------------------------------

variable "iam_role_path" {
  type        = string
  description = "Path of every IAM role and instance profile the stack creates."
  default     = "/"
}

variable "iam_role_permissions_boundary" {
  type        = string
  description = "ARN of a permissions boundary for every IAM role the stack creates."
  default     = null
}

variable "task_role_arn" {
  type        = string
  description = "Existing task role (Batch job role and EKS pod identity role). Null: create it."
  default     = null
}

variable "batch_service_role_arn" {
  type        = string
  description = "Existing Batch service role. Null: create it."
  default     = null
}

variable "batch_instance_profile_arn" {
  type        = string
  description = "Existing ECS container-instance profile for Batch. Null: create the role and profile."
  default     = null
}

variable "batch_execution_role_arn" {
  type        = string
  description = "Existing ECS execution role for Batch jobs. Null: create it."
  default     = null
}

variable "eks_cluster_role_arn" {
  type        = string
  description = "Existing EKS cluster role. Null: create it."
  default     = null
}

variable "eks_node_role_arn" {
  type        = string
  description = "Existing EKS node role. Null: create it."
  default     = null
}
