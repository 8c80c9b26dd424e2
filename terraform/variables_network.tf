# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------

variable "create_vpc" {
  type        = bool
  description = "Create a VPC. When false, vpc_id and private_subnet_ids are used (bring your own VPC)."
  default     = true
}

variable "vpc_id" {
  type        = string
  description = "ID of an existing VPC, used when create_vpc is false."
  default     = null
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "IDs of existing private subnets in two or more AZs, used when create_vpc is false."
  default     = []
}

variable "vpc_cidr_block" {
  type        = string
  description = "CIDR block of the VPC to create."
  default     = "10.20.0.0/16"
}

variable "availability_zone_count" {
  type        = number
  description = "Number of AZs the created VPC spans (2 or more)."
  default     = 2
}

variable "create_public_subnets" {
  type        = bool
  description = "Create public subnets and an internet gateway (needed by NAT)."
  default     = false
}

variable "enable_nat_gateway" {
  type        = bool
  description = "Create NAT for outbound internet from the private subnets (about 32 USD/month per gateway plus data). Needs create_public_subnets."
  default     = false
}

variable "single_nat_gateway" {
  type        = bool
  description = "One shared NAT gateway instead of one per AZ."
  default     = true
}

variable "enable_interface_endpoints" {
  type        = bool
  description = "Create interface VPC endpoints (about 7.3 USD/month each per AZ) so private instances reach ECR, Logs, STS, ECS and EKS Pod Identity without NAT."
  default     = false
}

variable "interface_endpoint_services" {
  type        = list(string)
  description = "Service suffixes of the interface endpoints."
  default     = ["ecr.api", "ecr.dkr", "logs", "sts", "ecs", "ecs-agent", "ecs-telemetry", "eks-auth"]
}

variable "enable_flow_logs" {
  type        = bool
  description = "Send VPC flow logs of the created VPC to CloudWatch Logs."
  default     = true
}
