output "repository_name" {
  description = "Name of the repository."
  value       = aws_ecr_repository.this.name
}

output "repository_arn" {
  description = "ARN of the repository."
  value       = aws_ecr_repository.this.arn
}

output "repository_url" {
  description = "URL of the repository (<account>.dkr.ecr.<region>.amazonaws.com/<name>)."
  value       = aws_ecr_repository.this.repository_url
}

output "registry_id" {
  description = "ID of the registry (the account) holding the repository."
  value       = aws_ecr_repository.this.registry_id
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the repository (given as kms_key_arn)."
  value       = local.kms_key_arn
}
