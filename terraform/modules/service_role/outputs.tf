output "arn" {
  description = "ARN of the role."
  value       = aws_iam_role.this.arn
}

output "name" {
  description = "Name of the role (what policies and attachments refer to)."
  value       = aws_iam_role.this.name
}
