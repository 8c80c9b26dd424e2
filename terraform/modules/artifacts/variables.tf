variable "name" {
  type        = string
  description = "Name prefix for resources; the bucket is named <name>-artifacts-<account id>-<region> unless bucket_name is set."
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every resource this module creates."
  default     = {}
}

variable "bucket_name" {
  type        = string
  description = "Exact bucket name. Null: <name>-artifacts-<account id>-<region>."
  default     = null
}

variable "bucket_force_destroy" {
  type        = bool
  description = "Let terraform destroy delete a non-empty bucket (all artifacts and versions). Keep false outside throw-away environments."
  default     = false
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key for SSE-KMS (the stack's key from modules/kms, or one made elsewhere)."
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days after which noncurrent object versions are deleted."
  default     = 30
}

variable "noncurrent_versions_to_keep" {
  type        = number
  description = "Newest noncurrent versions kept regardless of age. Null: none, every noncurrent version expires after noncurrent_version_expiration_days."
  default     = 3
}

variable "abort_incomplete_multipart_upload_days" {
  type        = number
  description = "Days after which incomplete multipart uploads are aborted."
  default     = 7
}

variable "access_logging_target_bucket" {
  type        = string
  description = "Existing bucket that receives S3 server access logs. Null: no access logging."
  default     = null
}

variable "access_logging_target_prefix" {
  type        = string
  description = "Key prefix for S3 server access logs in access_logging_target_bucket."
  default     = "s3-access-logs/"
}
