# ---------------------------------------------------------------------------------------------
# Identity of the stack
# ---------------------------------------------------------------------------------------------

variable "environment" {
  type        = string
  description = "Environment name (dev, prod, ...): part of every resource name and the flowlib profile name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.environment))
    error_message = "environment must be 2-21 characters: lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "AWS region of every resource."
}

variable "name" {
  type        = string
  description = "Name prefix of every resource. Null: flowlib-<environment>."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource (provider default_tags and the tags of resources AWS launches for us, such as instances)."
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# Encryption
# ---------------------------------------------------------------------------------------------

variable "create_kms_key" {
  type        = bool
  description = "Create the stack's KMS key (artifacts, table, logs, EKS secrets, ECR). When false, kms_key_arn is used."
  default     = true
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of an existing KMS key, used when create_kms_key is false. Its policy must allow CloudWatch Logs in this region."
  default     = null
}

variable "cloudwatch_log_group_retention_in_days" {
  type        = number
  description = "Retention of every log group the stack creates (flow logs, Batch jobs, EKS control plane), in days."
  default     = 365
}

# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------

variable "create_vpc" {
  type        = bool
  description = "Create a VPC. When false, vpc_id and private_subnet_ids are used (bring your own VPC)."
  default     = true
}

variable "vpc_id" {
  type        = string
  description = "ID of an existing VPC, used when create_vpc is false."
  default     = null
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "IDs of existing private subnets in two or more AZs, used when create_vpc is false."
  default     = []
}

variable "vpc_cidr_block" {
  type        = string
  description = "CIDR block of the VPC to create."
  default     = "10.20.0.0/16"
}

variable "availability_zone_count" {
  type        = number
  description = "Number of AZs the created VPC spans (2 or more)."
  default     = 2
}

variable "create_public_subnets" {
  type        = bool
  description = "Create public subnets and an internet gateway (needed by NAT)."
  default     = false
}

variable "enable_nat_gateway" {
  type        = bool
  description = "Create NAT for outbound internet from the private subnets (about 32 USD/month per gateway plus data). Needs create_public_subnets."
  default     = false
}

variable "single_nat_gateway" {
  type        = bool
  description = "One shared NAT gateway instead of one per AZ."
  default     = true
}

variable "enable_interface_endpoints" {
  type        = bool
  description = "Create interface VPC endpoints (about 7.3 USD/month each per AZ) so private instances reach ECR, Logs, STS, ECS and EKS Pod Identity without NAT."
  default     = false
}

variable "interface_endpoint_services" {
  type        = list(string)
  description = "Service suffixes of the interface endpoints."
  default     = ["ecr.api", "ecr.dkr", "logs", "sts", "ecs", "ecs-agent", "ecs-telemetry", "eks-auth"]
}

variable "enable_flow_logs" {
  type        = bool
  description = "Send VPC flow logs of the created VPC to CloudWatch Logs."
  default     = true
}

# ---------------------------------------------------------------------------------------------
# Artifacts and metadata
# ---------------------------------------------------------------------------------------------

variable "s3_bucket_name" {
  type        = string
  description = "Exact artifact bucket name. Null: <name>-artifacts-<account id>-<region>."
  default     = null
}

variable "s3_prefix" {
  type        = string
  description = "Key prefix flowlib writes under, no leading or trailing slash. The task role can touch nothing else in the bucket."
  default     = "flowlib"
}

variable "s3_bucket_force_destroy" {
  type        = bool
  description = "Let terraform destroy delete a non-empty artifact bucket. Keep false outside throw-away environments."
  default     = false
}

variable "s3_access_logging_target_bucket" {
  type        = string
  description = "Existing bucket for S3 server access logs of the artifact bucket. Null: no access logging."
  default     = null
}

variable "s3_noncurrent_version_expiration_days" {
  type        = number
  description = "Days after which noncurrent artifact versions are deleted."
  default     = 30
}

variable "s3_noncurrent_versions_to_keep" {
  type        = number
  description = "Newest noncurrent versions of an artifact kept regardless of age. Null: none."
  default     = 3
}

variable "dynamodb_table_name" {
  type        = string
  description = "Exact metadata table name. Null: <name>-metadata."
  default     = null
}

variable "dynamodb_table_deletion_protection_enabled" {
  type        = bool
  description = "Deletion protection on the metadata table."
  default     = true
}

variable "projects" {
  type = map(object({
    s3_prefix = optional(string)
  }))
  description = "Isolated projects (or teams), keyed by name: each gets its own S3 prefix (default projects/<name>), metadata table and task role, so one project's steps cannot write another's artifacts or runs. platform writes a flowlib profile <environment>-<name> for each."
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.projects) : can(regex("^[a-z][a-z0-9-]{0,29}$", name))])
    error_message = "Project names must be 1-30 characters: lowercase letters, digits and dashes, starting with a letter."
  }

  validation {
    condition = alltrue([
      for p in values(var.projects) : p.s3_prefix == null || can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", p.s3_prefix))
    ])
    error_message = "A project's s3_prefix must be non-empty, without leading, trailing or double slashes, using S3's safe characters."
  }
}

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

# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------

variable "create_ecr_repository" {
  type        = bool
  description = "Create the ECR repository for the step runtime image (images/)."
  default     = true
}

variable "ecr_repository_name" {
  type        = string
  description = "Name of the ECR repository. Null: <name>/step."
  default     = null
}

variable "ecr_repository_force_delete" {
  type        = bool
  description = "Let terraform destroy delete the repository with its images."
  default     = false
}

variable "image_tag" {
  type        = string
  description = "Tag of the step image in the stack's ECR repository that flowlib uses by default. Null: no default image from ECR."
  default     = null
}

variable "image" {
  type        = string
  description = "Full default step image reference, overriding the ECR repository and image_tag. Null: use them."
  default     = null
}

variable "enable_step_functions" {
  type        = bool
  description = "Create what `step-functions create` needs: the Step Functions execution role, the EventBridge Scheduler role and an execution log group (needs enable_batch)."
  default     = true
}

variable "sfn_role_arn" {
  type        = string
  description = "Existing Step Functions execution role. Null: create it (with enable_step_functions)."
  default     = null
}

variable "scheduler_role_arn" {
  type        = string
  description = "Existing EventBridge Scheduler role that starts state machines. Null: create it (with enable_step_functions)."
  default     = null
}

variable "enable_http_api" {
  type        = bool
  description = "Create the HTTP endpoint (API Gateway HTTP API with AWS_IAM authorization on every route, and its Lambda function) that starts deployed flows and reports runs. No cost at rest (per request only); nothing public. Needs enable_step_functions and http_api_package_path."
  default     = true
}

variable "http_api_package_path" {
  type        = string
  description = "Zip of the HTTP endpoint's Lambda function (flowlib and its dependencies). `platform init/apply` builds it and sets this; null: no endpoint."
  default     = null
}

variable "http_api_runtime" {
  type        = string
  description = "Lambda runtime of the HTTP endpoint; must match the Python the package was built for (`platform` sets both)."
  default     = "python3.12"
}

variable "http_api_architecture" {
  type        = string
  description = "Lambda architecture of the HTTP endpoint (x86_64 or arm64); must match the package."
  default     = "x86_64"
}

variable "enable_events" {
  type        = bool
  description = "Create what event triggers need: the environment's event bus, the role EventBridge starts state machines with, events:PutEvents for the task roles, S3 EventBridge notifications."
  default     = true
}

variable "events_create_event_bus" {
  type        = bool
  description = "Give the environment an event bus of its own (named like the stack), so events of one environment never start another's flows. False: use events_event_bus_name."
  default     = true
}

variable "events_event_bus_name" {
  type        = string
  description = "Existing event bus, when events_create_event_bus is false. Null: the account's default bus."
  default     = null
}

variable "events_role_arn" {
  type        = string
  description = "Existing role EventBridge starts this environment's state machines with. Null: create it (with enable_events)."
  default     = null
}

variable "s3_bucket_eventbridge_notifications" {
  type        = bool
  description = "Send the artifact bucket's notifications to EventBridge (for @trigger(s3=...) on it; events from AWS services on the default bus cost nothing)."
  default     = true
}

variable "s3_event_buckets" {
  type        = list(string)
  description = "Other buckets of this account and region whose notifications go to EventBridge (for @trigger(s3=...)). The stack then owns each one's whole notification configuration: do not list a bucket that notifies SQS, SNS or Lambda."
  default     = []
}
