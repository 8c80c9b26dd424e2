output "bucket_name" {
  description = "Name of the artifact bucket."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the artifact bucket."
  value       = aws_s3_bucket.this.arn
}

output "bucket_regional_domain_name" {
  description = "Regional domain name of the artifact bucket."
  value       = aws_s3_bucket.this.bucket_regional_domain_name
}

output "kms_key_arn" {
  description = "ARN of the KMS key the bucket requires for SSE-KMS (created or given)."
  value       = local.kms_key_arn
}

output "kms_key_id" {
  description = "ID of the KMS key created by this module; null when a key was given."
  value       = try(aws_kms_key.this[0].key_id, null)
}
