variable "name" {
  type        = string
  description = "Cluster name, also the prefix of the node groups, security group and launch templates."
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every resource this module creates."
  default     = {}
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes version of the control plane. Null: the current EKS default."
  default     = "1.33"
}

variable "vpc_id" {
  type        = string
  description = "VPC of the cluster."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (two or more AZs) for the control plane ENIs and the nodes."
}

variable "node_role_arn" {
  type        = string
  description = "ARN of the node IAM role shared by the managed node groups."
}

variable "cluster_endpoint_public_access" {
  type        = bool
  description = "Expose the API server endpoint publicly too (the private endpoint is always on)."
  default     = false
}

variable "cluster_endpoint_public_access_cidrs" {
  type        = list(string)
  description = "CIDR blocks allowed to reach the public endpoint when cluster_endpoint_public_access is true. Must not be 0.0.0.0/0."
  default     = []

  validation {
    condition     = !contains(var.cluster_endpoint_public_access_cidrs, "0.0.0.0/0")
    error_message = "Refusing 0.0.0.0/0: list the networks that need the public endpoint."
  }
}

variable "cluster_enabled_log_types" {
  type        = list(string)
  description = "Control-plane log types sent to CloudWatch Logs."
  default     = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
}

variable "cloudwatch_log_group_retention_in_days" {
  type        = number
  description = "Retention of the control-plane log group, in days."
  default     = 365
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key for secrets envelope encryption and the control-plane log group (modules/kms; a key made elsewhere must let CloudWatch Logs use it)."
}

variable "cluster_authentication_mode" {
  type        = string
  description = "API (access entries only) or API_AND_CONFIG_MAP. Null: leave EKS's default and omit access_config (the cluster creator then keeps admin)."
  default     = "API"
}

variable "cluster_admin_principal_arns" {
  type        = list(string)
  description = "IAM principal ARNs (roles or users) given cluster-admin through EKS access entries."
  default     = []
}

variable "node_groups" {
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
  description = "Managed node groups keyed by short name. gpu = true picks the NVIDIA AMI and adds an nvidia.com/gpu NoSchedule taint unless taints are given. Keep at least one node in some group: CoreDNS needs one."
  default = {
    cpu = { min_size = 1, desired_size = 1 }
  }
}

variable "launch_template_http_put_response_hop_limit" {
  type        = number
  description = "IMDSv2 hop limit on nodes; 1 keeps pods away from the node's instance credentials (pods use Pod Identity)."
  default     = 1
}

variable "addons" {
  type = map(object({
    addon_version               = optional(string)
    resolve_conflicts_on_create = optional(string, "OVERWRITE")
    resolve_conflicts_on_update = optional(string, "OVERWRITE")
    configuration_values        = optional(string)
  }))
  description = "EKS add-ons by name (versions default to the cluster version's default). vpc-cni, kube-proxy and eks-pod-identity-agent are created before the node groups, the rest after."
  default = {
    vpc-cni                = {}
    kube-proxy             = {}
    eks-pod-identity-agent = {}
    coredns                = {}
  }
}

variable "create_pod_identity_association" {
  type        = bool
  description = "Bind pod_identity_role_arn to flowlib's service account with an EKS Pod Identity association."
  default     = true
}

variable "pod_identity_role_arn" {
  type        = string
  description = "IAM role the flowlib service account assumes (trusting pods.eks.amazonaws.com); usually the task role."
  default     = null
}

variable "kubernetes_namespace" {
  type        = string
  description = "Namespace flowlib's jobs run in."
  default     = "flowlib"
}

variable "kubernetes_service_account" {
  type        = string
  description = "Service account flowlib's jobs run as."
  default     = "flowlib"
}

# --- Service role (as terraform-aws-eks: create one, or bring iam_role_arn) ------------------

variable "create_iam_role" {
  type        = bool
  description = "Create the EKS cluster service role. When false, iam_role_arn is used (required then)."
  default     = true
}

variable "iam_role_arn" {
  type        = string
  description = "ARN of an existing EKS cluster service role, used when create_iam_role is false."
  default     = null
}

variable "iam_role_name" {
  type        = string
  description = "Name of the created service role. Null: <name>-eks-cluster."
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
