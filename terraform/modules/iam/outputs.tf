output "task_role_arn" {
  description = "ARN of the task role (created or brought): Batch job role and EKS pod identity role."
  value       = var.create_task_role ? try(module.task_role[0].arn, null) : var.task_role_arn

  # Consumers must not use the role before its policies are attached.
  depends_on = [aws_iam_role_policy.task, aws_iam_role_policy.task_secrets]
}

output "task_role_name" {
  description = "Name of the task role created by this module; null when brought."
  value       = try(module.task_role[0].name, null)
}

output "ecs_instance_role_arn" {
  description = "ARN of the ECS instance role created by this module; null when brought or off."
  value       = try(module.ecs_instance_role[0].arn, null)
}

output "ecs_instance_profile_arn" {
  description = "ARN of the ECS instance profile (created or brought); null when Batch roles are off."
  value       = var.create_batch_roles ? (var.create_ecs_instance_role ? try(aws_iam_instance_profile.ecs_instance[0].arn, null) : var.ecs_instance_profile_arn) : null

  # Consumers must not use the role before its policies are attached.
  depends_on = [aws_iam_role_policy_attachment.ecs_instance]
}

output "execution_role_arn" {
  description = "ARN of the job execution role (created or brought); null when Batch roles are off."
  value       = var.create_batch_roles ? (var.create_execution_role ? try(module.execution_role[0].arn, null) : var.execution_role_arn) : null

  # Consumers must not use the role before its policies are attached.
  depends_on = [aws_iam_role_policy_attachment.execution]
}

output "eks_node_role_arn" {
  description = "ARN of the EKS node role (created or brought); null when EKS roles are off."
  value       = var.create_eks_roles ? (var.create_eks_node_role ? try(module.eks_node_role[0].arn, null) : var.eks_node_role_arn) : null

  # Consumers must not use the role before its policies are attached.
  depends_on = [aws_iam_role_policy_attachment.eks_node]
}
