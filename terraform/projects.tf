# ---------------------------------------------------------------------------------------------
# Isolated projects (var.projects): one S3 prefix, one metadata table and one task role each.
#
# A project's steps run as its own role, which can read and write only its prefix and its
# table (the shared task role cannot reach them either, and the project role cannot reach the
# shared prefix, the shared table or another project's). What stays shared, and is therefore
# NOT an isolation boundary: the bucket itself (and its KMS key, usable only through S3 and
# DynamoDB), Batch queues and their instances, EKS nodes, the ECR image repository, the event
# bus (enable_events: every task role may publish on it), and the
# humans' own credentials, which these roles do not limit. See the README's trust model.
#
# platform writes a flowlib profile "<environment>-<project>" for each (flowlib_config.projects).
# ---------------------------------------------------------------------------------------------

locals {
  projects = {
    for name, project in var.projects : name => {
      s3_prefix                  = coalesce(project.s3_prefix, "projects/${name}")
      kubernetes_service_account = "${var.kubernetes_service_account}-${name}"
    }
  }

  # Every prefix a task role owns, shared one first; none may contain another.
  owned_prefixes = concat([var.s3_prefix], [for p in values(local.projects) : p.s3_prefix])
  overlapping_prefixes = flatten([
    for i, a in local.owned_prefixes : [
      for j, b in local.owned_prefixes : "${a} / ${b}"
      if i < j && (a == b || startswith(a, "${b}/") || startswith(b, "${a}/"))
    ]
  ])
}

module "project_metadata" {
  source   = "./modules/metadata"
  for_each = local.projects

  name = "${local.name}-${each.key}"
  tags = merge(local.tags, { FlowlibProject = each.key })

  table_deletion_protection_enabled = var.dynamodb_table_deletion_protection_enabled
  kms_key_arn                       = local.kms_key_arn
}

module "project_iam" {
  source   = "./modules/iam"
  for_each = local.projects

  name = "${local.name}-${each.key}"
  tags = merge(local.tags, { FlowlibProject = each.key })

  iam_role_path                 = var.iam_role_path
  iam_role_permissions_boundary = var.iam_role_permissions_boundary

  s3_bucket_arn      = module.artifacts.bucket_arn
  s3_prefix          = each.value.s3_prefix
  dynamodb_table_arn = module.project_metadata[each.key].table_arn
  kms_key_arns       = [local.kms_key_arn]

  create_task_role                 = true
  task_role_trust_eks_pod_identity = var.enable_eks
  create_batch_roles               = false
  create_eks_roles                 = false
}

# The project's Kubernetes service account (<kubernetes_service_account>-<project>, created in
# the cluster like flowlib's own) gets the project's role through EKS Pod Identity.
resource "aws_eks_pod_identity_association" "project" {
  for_each = var.enable_eks && var.eks_create_pod_identity_association ? local.projects : {}

  cluster_name    = module.eks[0].cluster_name
  namespace       = var.kubernetes_namespace
  service_account = each.value.kubernetes_service_account
  role_arn        = module.project_iam[each.key].task_role_arn

  tags = merge(local.tags, { FlowlibProject = each.key })
}

output "project_task_role_arns" {
  description = "Map of project name to the ARN of its task role (empty without var.projects)."
  value       = { for name, _ in local.projects : name => module.project_iam[name].task_role_arn }

  precondition {
    condition     = length(local.overlapping_prefixes) == 0
    error_message = "S3 prefixes of s3_prefix and projects must not contain one another (a role owning the outer prefix could write the inner one): ${join(", ", local.overlapping_prefixes)}."
  }
}
