output "vpc_id" {
  description = "ID of the VPC (created or brought)."
  value       = var.create_vpc ? try(aws_vpc.this[0].id, null) : var.vpc_id
}

output "vpc_cidr_block" {
  description = "CIDR block of the created VPC; null when the VPC was brought."
  value       = try(aws_vpc.this[0].cidr_block, null)
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (created or brought)."
  value       = var.create_vpc ? aws_subnet.private[*].id : var.private_subnet_ids
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (created or brought); empty when there are none."
  value       = var.create_vpc ? aws_subnet.public[*].id : var.public_subnet_ids
}

output "private_route_table_ids" {
  description = "IDs of the private route tables; empty when the VPC was brought."
  value       = aws_route_table.private[*].id
}

output "availability_zones" {
  description = "Availability zones of the created subnets; empty when the VPC was brought."
  value       = local.azs
}

output "nat_gateway_ids" {
  description = "IDs of the NAT gateways; empty when NAT is disabled."
  value       = aws_nat_gateway.this[*].id
}

output "gateway_endpoint_ids" {
  description = "Map of gateway endpoint service (s3, dynamodb) to VPC endpoint ID."
  value       = { for k, v in aws_vpc_endpoint.gateway : k => v.id }
}

output "interface_endpoint_ids" {
  description = "Map of interface endpoint service suffix to VPC endpoint ID."
  value       = { for k, v in aws_vpc_endpoint.interface : k => v.id }
}

output "flow_log_id" {
  description = "ID of the VPC flow log; null when disabled."
  value       = try(aws_flow_log.this[0].id, null)
}

output "flow_log_cloudwatch_log_group_name" {
  description = "Name of the flow log CloudWatch log group; null when disabled."
  value       = try(aws_cloudwatch_log_group.flow_logs[0].name, null)
}
