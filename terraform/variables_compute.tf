# ---------------------------------------------------------------------------------------------
# Batch
# ---------------------------------------------------------------------------------------------

variable "enable_batch" {
  type        = bool
  description = "Create AWS Batch compute environments, queues and the base job definition."
  default     = true
}

variable "batch_compute_environments" {
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
  description = "Batch compute environments (one queue each) keyed by short name; see modules/batch."
  default = {
    cpu      = {}
    cpu-spot = { type = "SPOT" }
  }
}

variable "batch_default_compute_environment" {
  type        = string
  description = "Key of batch_compute_environments whose queue is flowlib's default. Null: the first key in sorted order."
  default     = "cpu"
}

variable "batch_job_state_time_limit_actions" {
  type        = map(number)
  description = "RUNNABLE-state reason -> seconds after which a stuck job is cancelled, on every queue."
  default = {
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE" = 600
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"         = 600
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"           = 3600
  }
}

variable "batch_job_definition_image" {
  type        = string
  description = "Image of the base job definition when the stack has no step image (image and image_tag null)."
  default     = "public.ecr.aws/docker/library/python:3.11-slim-bookworm"
}

# ---------------------------------------------------------------------------------------------
# EKS
# ---------------------------------------------------------------------------------------------

variable "enable_eks" {
  type        = bool
  description = "Create an EKS cluster with managed node groups (control plane about 73 USD/month)."
  default     = false
}

variable "eks_kubernetes_version" {
  type        = string
  description = "Kubernetes version of the EKS control plane."
  default     = "1.33"
}

variable "eks_cluster_endpoint_public_access" {
  type        = bool
  description = "Expose the API server publicly too (private endpoint always on)."
  default     = false
}

variable "eks_cluster_endpoint_public_access_cidrs" {
  type        = list(string)
  description = "CIDR blocks allowed to reach the public API endpoint."
  default     = []
}

variable "eks_cluster_authentication_mode" {
  type        = string
  description = "EKS authentication mode: API (access entries only) or API_AND_CONFIG_MAP. Null: EKS's default."
  default     = "API"
}

variable "eks_cluster_admin_principal_arns" {
  type        = list(string)
  description = "IAM principals given cluster-admin through EKS access entries."
  default     = []
}

variable "eks_node_groups" {
  type = map(object({
    instance_types = optional(list(string), ["m6i.large"])
    ami_type       = optional(string)
    gpu            = optional(bool, false)
    capacity_type  = optional(string, "ON_DEMAND")
    min_size       = optional(number, 0)
    max_size       = optional(number, 3)
    desired_size   = optional(number, 0)
    disk_size      = optional(number, 100)
    labels         = optional(map(string), {})
    taints = optional(list(object({
      key    = string
      value  = optional(string)
      effect = string
    })), [])
  }))
  description = "EKS managed node groups keyed by short name; see modules/eks."
  default = {
    cpu = { min_size = 1, desired_size = 1 }
  }
}

variable "eks_addons" {
  type = map(object({
    addon_version               = optional(string)
    resolve_conflicts_on_create = optional(string, "OVERWRITE")
    resolve_conflicts_on_update = optional(string, "OVERWRITE")
    configuration_values        = optional(string)
  }))
  description = "EKS add-ons by name; see modules/eks."
  default = {
    vpc-cni                = {}
    kube-proxy             = {}
    eks-pod-identity-agent = {}
    coredns                = {}
  }
}

variable "eks_create_pod_identity_association" {
  type        = bool
  description = "Bind the task role to flowlib's service account with EKS Pod Identity."
  default     = true
}

variable "kubernetes_namespace" {
  type        = string
  description = "Namespace flowlib's Kubernetes jobs run in."
  default     = "flowlib"
}

variable "kubernetes_service_account" {
  type        = string
  description = "Service account flowlib's Kubernetes jobs run as."
  default     = "flowlib"
}
