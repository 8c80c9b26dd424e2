output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = aws_eks_cluster.this.arn
}

output "cluster_endpoint" {
  description = "Endpoint of the Kubernetes API server."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the API server (public data)."
  value       = try(aws_eks_cluster.this.certificate_authority[0].data, null)
}

output "cluster_security_group_id" {
  description = "ID of the additional security group of the control plane ENIs."
  value       = aws_security_group.cluster.id
}

output "cluster_primary_security_group_id" {
  description = "ID of the security group EKS created for the cluster (nodes and control plane)."
  value       = try(aws_eks_cluster.this.vpc_config[0].cluster_security_group_id, null)
}

output "node_group_arns" {
  description = "Map of node group key to node group ARN."
  value       = { for k, v in aws_eks_node_group.this : k => v.arn }
}

output "addon_versions" {
  description = "Map of add-on name to installed version."
  value       = merge({ for k, v in aws_eks_addon.pre_node : k => v.addon_version }, { for k, v in aws_eks_addon.post_node : k => v.addon_version })
}

output "pod_identity_association_id" {
  description = "ID of the flowlib service account's pod identity association; null when off."
  value       = try(aws_eks_pod_identity_association.flowlib[0].association_id, null)
}

output "kubernetes_namespace" {
  description = "Namespace flowlib's jobs run in."
  value       = var.kubernetes_namespace
}

output "kubernetes_service_account" {
  description = "Service account flowlib's jobs run as."
  value       = var.kubernetes_service_account
}

output "kms_key_arn" {
  description = "ARN of the KMS key for secrets encryption and control-plane logs (given as kms_key_arn)."
  value       = local.kms_key_arn
}

output "cloudwatch_log_group_name" {
  description = "Name of the control-plane log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "iam_role_arn" {
  description = "ARN of the service role (created or brought)."
  value       = local.iam_role_arn
}

output "iam_role_name" {
  description = "Name of the service role created by this module; null when brought."
  value       = try(module.service_role[0].name, null)
}
