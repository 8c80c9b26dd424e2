variable "name" {
  type        = string
  description = "Name prefix for every resource this module creates."
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every resource this module creates."
  default     = {}
}

variable "create_vpc" {
  type        = bool
  description = "Create a VPC, subnets, routes and endpoints. When false, vpc_id and private_subnet_ids are passed through (bring your own VPC) and nothing is created."
  default     = true
}

variable "vpc_id" {
  type        = string
  description = "ID of an existing VPC, used only when create_vpc is false."
  default     = null
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "IDs of existing private subnets (two or more AZs), used only when create_vpc is false."
  default     = []
}

variable "public_subnet_ids" {
  type        = list(string)
  description = "IDs of existing public subnets, used only when create_vpc is false (optional)."
  default     = []
}

variable "vpc_cidr_block" {
  type        = string
  description = "IPv4 CIDR block of the VPC to create."
  default     = "10.20.0.0/16"
}

variable "availability_zone_count" {
  type        = number
  description = "Number of availability zones to spread subnets over (2 or more)."
  default     = 2

  validation {
    condition     = var.availability_zone_count >= 2
    error_message = "availability_zone_count must be at least 2."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zone names to use. Empty: the first availability_zone_count zones of the region."
  default     = []
}

variable "private_subnet_newbits" {
  type        = number
  description = "Bits added to the VPC prefix for each private subnet (cidrsubnet newbits); /16 + 4 = /20."
  default     = 4
}

variable "public_subnet_newbits" {
  type        = number
  description = "Bits added to the VPC prefix for each public subnet (cidrsubnet newbits); /16 + 8 = /24."
  default     = 8
}

variable "create_public_subnets" {
  type        = bool
  description = "Create public subnets and an internet gateway (required for a NAT gateway)."
  default     = false
}

variable "enable_nat_gateway" {
  type        = bool
  description = "Create NAT gateway(s) for outbound internet access from private subnets (about 32 USD/month each plus data). Requires create_public_subnets."
  default     = false
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway shared by all AZs (cheaper) instead of one per AZ (zone-resilient)."
  default     = true
}

variable "enable_gateway_endpoints" {
  type        = bool
  description = "Create the free S3 and DynamoDB gateway endpoints on the private route tables."
  default     = true
}

variable "enable_interface_endpoints" {
  type        = bool
  description = "Create interface endpoints (PrivateLink, about 7.3 USD/month per endpoint per AZ) for interface_endpoint_services."
  default     = false
}

variable "interface_endpoint_services" {
  type        = list(string)
  description = "Service suffixes for interface endpoints (com.amazonaws.REGION.<suffix>). The default covers ECR image pulls, CloudWatch Logs, STS, ECS agents and EKS Pod Identity."
  default     = ["ecr.api", "ecr.dkr", "logs", "sts", "ecs", "ecs-agent", "ecs-telemetry", "eks-auth"]
}

variable "enable_flow_logs" {
  type        = bool
  description = "Send VPC flow logs to a KMS-encrypted CloudWatch log group."
  default     = true
}

variable "flow_logs_traffic_type" {
  type        = string
  description = "Traffic captured by flow logs: ACCEPT, REJECT or ALL."
  default     = "ALL"
}

variable "cloudwatch_log_group_retention_in_days" {
  type        = number
  description = "Retention of the flow log group, in days."
  default     = 365
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key for the flow log group (modules/kms; a key made elsewhere must let CloudWatch Logs use it). Unused when flow logs are off."
  default     = null
}

variable "iam_role_path" {
  type        = string
  description = "Path of the flow-log delivery IAM role."
  default     = "/"
}

variable "iam_role_permissions_boundary" {
  type        = string
  description = "ARN of a permissions boundary for the flow-log delivery IAM role."
  default     = null
}
