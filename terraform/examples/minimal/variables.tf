variable "region" {
  type        = string
  description = "AWS region."
  default     = "us-east-1"
}

variable "name" {
  type        = string
  description = "Name prefix of every resource (the bucket, table, key alias and task role)."
  default     = "flowlib-minimal"
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource."
  default     = {}
}
