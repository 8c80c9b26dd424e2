variable "region" {
  type        = string
  description = "AWS region."
  default     = "us-east-1"
}

variable "name" {
  type        = string
  description = "Name prefix of every resource this example creates."
  default     = "flowlib-byo"
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource this example creates."
  default     = {}
}

variable "vpc_id" {
  type        = string
  description = "Your VPC."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Your private subnets (two or more AZs) with a route to S3, DynamoDB, ECR, ECS, Logs and STS."
}

variable "batch_service_role_arn" {
  type        = string
  description = "Your Batch service role (trusts batch.amazonaws.com, AWSBatchServiceRole attached)."
}

variable "batch_instance_profile_arn" {
  type        = string
  description = "Your ECS container-instance profile (an instance profile ARN, not a role)."
}

variable "batch_execution_role_arn" {
  type        = string
  description = "Your ECS task execution role (image pull, log delivery)."
}

variable "task_role_arn" {
  type        = string
  description = "Your role for flowlib's steps (permissions: modules/iam/README.md)."
}

variable "job_definition_image" {
  type        = string
  description = "Image of the base job definition (flowlib's step image, or any image with Python 3.10+)."
  default     = "public.ecr.aws/docker/library/python:3.11-slim-bookworm"
}
