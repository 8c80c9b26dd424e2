output "table_name" {
  description = "Name of the metadata table."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the metadata table."
  value       = aws_dynamodb_table.this.arn
}

output "table_index_arns" {
  description = "ARNs of the table's global secondary indexes."
  value       = [for g in local.gsis : "${aws_dynamodb_table.this.arn}/index/${g.name}"]
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the table (given as kms_key_arn)."
  value       = local.kms_key_arn
}

output "schema" {
  description = "The decoded flowlib table schema the table was built from."
  value       = local.schema
}
