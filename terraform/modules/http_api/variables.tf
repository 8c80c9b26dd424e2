variable "create" {
  type        = bool
  description = "Create the HTTP endpoint (API, Lambda function, role, log groups)."
  default     = true
}

variable "name" {
  type        = string
  description = "Name prefix of every resource (the environment's name)."
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource."
  default     = {}
}

variable "environment" {
  type        = string
  description = "flowlib environment name: the profile's `environment`, the prefix of the state machines `step-functions create` names (\"<environment>-...\")."
}

variable "package_path" {
  type        = string
  description = "Zip of the Lambda function (flowlib and its dependencies), built by `platform` before apply (`platform http-api package`)."
}

variable "runtime" {
  type        = string
  description = "Lambda runtime the package was built for."
  default     = "python3.12"
}

variable "architecture" {
  type        = string
  description = "Lambda architecture the package was built for: x86_64 or arm64."
  default     = "x86_64"
}

variable "memory_size" {
  type        = number
  description = "Lambda memory in MiB (CPU scales with it; 512 keeps a cold start near a second)."
  default     = 512
}

variable "timeout" {
  type        = number
  description = "Lambda timeout in seconds (API Gateway answers 503 after 30 s anyway)."
  default     = 29
}

variable "throttling_rate_limit" {
  type        = number
  description = "Steady requests per second the stage accepts (beyond: 429)."
  default     = 20
}

variable "throttling_burst_limit" {
  type        = number
  description = "Burst of requests the stage accepts."
  default     = 40
}

variable "bucket_arn" {
  type        = string
  description = "Artifact bucket (deployment records, parameter defaults, a new run's parameters)."
}

variable "bucket_name" {
  type        = string
  description = "Artifact bucket name (FLOWLIB_S3_BUCKET of the function)."
}

variable "s3_prefix" {
  type        = string
  description = "Key prefix flowlib writes under (no leading or trailing slash)."
  default     = ""
}

variable "table_arn" {
  type        = string
  description = "Metadata table (runs are allocated and read there)."
}

variable "table_name" {
  type        = string
  description = "Metadata table name (FLOWLIB_DYNAMODB_TABLE of the function)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key of the bucket and the table (also encrypts the function's variables and the log groups)."
  default     = null
}

variable "cloudwatch_log_group_retention_in_days" {
  type        = number
  description = "Retention of the function's and the API's access log groups."
  default     = 30
}

variable "iam_role_path" {
  type        = string
  description = "IAM path of the function's role."
  default     = "/"
}

variable "iam_role_permissions_boundary" {
  type        = string
  description = "ARN of the permissions boundary of the function's role; null for none."
  default     = null
}
