output "key_arn" {
  description = "ARN of the key; give it to the other modules as kms_key_arn."
  value       = aws_kms_key.this.arn
}

output "key_id" {
  description = "ID of the key."
  value       = aws_kms_key.this.key_id
}

output "alias_name" {
  description = "The key's alias (alias/<name>), null when create_alias is false."
  value       = try(aws_kms_alias.this[0].name, null)
}
