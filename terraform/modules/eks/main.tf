data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  region      = data.aws_region.current.name
  partition   = data.aws_partition.current.partition
  account_id  = data.aws_caller_identity.current.account_id
  kms_key_arn = var.kms_key_arn

  # Add-ons networking and identity need before nodes join; the others (CoreDNS) need nodes.
  pre_node_addon_names = ["vpc-cni", "kube-proxy", "eks-pod-identity-agent"]
  pre_node_addons      = { for k, v in var.addons : k => v if contains(local.pre_node_addon_names, k) }
  post_node_addons     = { for k, v in var.addons : k => v if !contains(local.pre_node_addon_names, k) }

  node_groups = {
    for k, v in var.node_groups : k => merge(v, {
      ami_type = coalesce(v.ami_type, v.gpu ? "AL2023_x86_64_NVIDIA" : "AL2023_x86_64_STANDARD")
      taints = length(v.taints) > 0 || !v.gpu ? v.taints : [
        { key = "nvidia.com/gpu", value = "true", effect = "NO_SCHEDULE" },
      ]
    })
  }
}

# ---------------------------------------------------------------------------------------------
# KMS key: secrets envelope encryption and the control-plane log group.
# ---------------------------------------------------------------------------------------------

# Created before the cluster so retention and encryption are ours, not EKS's defaults.
resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/eks/${var.name}/cluster"
  retention_in_days = var.cloudwatch_log_group_retention_in_days
  kms_key_id        = local.kms_key_arn

  tags = var.tags
}

# ---------------------------------------------------------------------------------------------
# Cluster
# ---------------------------------------------------------------------------------------------

resource "aws_security_group" "cluster" {
  name        = "${var.name}-eks-cluster"
  description = "EKS control plane ENIs: HTTPS from inside the VPC"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-eks-cluster" })
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "cluster_https" {
  security_group_id = aws_security_group.cluster.id
  description       = "Kubernetes API from inside the VPC"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = data.aws_vpc.this.cidr_block

  tags = var.tags
}

resource "aws_eks_cluster" "this" {
  name                      = var.name
  version                   = var.kubernetes_version
  role_arn                  = local.iam_role_arn
  enabled_cluster_log_types = var.cluster_enabled_log_types

  vpc_config {
    subnet_ids              = var.subnet_ids
    security_group_ids      = [aws_security_group.cluster.id]
    endpoint_private_access = true
    endpoint_public_access  = var.cluster_endpoint_public_access
    public_access_cidrs     = var.cluster_endpoint_public_access ? var.cluster_endpoint_public_access_cidrs : null
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = local.kms_key_arn
    }
  }

  # Access entries only (no aws-auth ConfigMap), and no implicit admin for whoever ran apply:
  # administrators are listed in cluster_admin_principal_arns.
  dynamic "access_config" {
    for_each = var.cluster_authentication_mode == null ? [] : [var.cluster_authentication_mode]
    content {
      authentication_mode                         = access_config.value
      bootstrap_cluster_creator_admin_permissions = false
    }
  }

  tags = var.tags

  # The log group first (or EKS makes an unencrypted one); the role's policy before the
  # cluster is created and until it is deleted.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy_attachment.service]
}

resource "aws_eks_access_entry" "admin" {
  for_each = toset(var.cluster_admin_principal_arns)

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value
  type          = "STANDARD"

  tags = var.tags
}

resource "aws_eks_access_policy_association" "admin" {
  for_each = toset(var.cluster_admin_principal_arns)

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.admin[each.key].principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }
}

resource "aws_eks_addon" "pre_node" {
  for_each = local.pre_node_addons

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = each.value.addon_version
  resolve_conflicts_on_create = each.value.resolve_conflicts_on_create
  resolve_conflicts_on_update = each.value.resolve_conflicts_on_update
  configuration_values        = each.value.configuration_values

  tags = var.tags
}

# ---------------------------------------------------------------------------------------------
# Managed node groups (IMDSv2 required, encrypted root volume)
# ---------------------------------------------------------------------------------------------

resource "aws_launch_template" "node" {
  for_each = local.node_groups

  name                   = "${var.name}-${each.key}"
  description            = "EKS node group ${each.key}: IMDSv2 required, encrypted root volume"
  update_default_version = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = var.launch_template_http_put_response_hop_limit
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_type           = "gp3"
      volume_size           = each.value.disk_size
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-${each.key}" })
  }

  tags = var.tags
}

resource "aws_eks_node_group" "this" {
  for_each = local.node_groups

  cluster_name    = aws_eks_cluster.this.name
  node_group_name = each.key
  node_role_arn   = var.node_role_arn
  subnet_ids      = var.subnet_ids
  ami_type        = each.value.ami_type
  capacity_type   = each.value.capacity_type
  instance_types  = each.value.instance_types
  labels          = merge({ "flowlib.io/node-group" = each.key }, each.value.labels)

  scaling_config {
    min_size     = each.value.min_size
    max_size     = each.value.max_size
    desired_size = each.value.desired_size
  }

  launch_template {
    id      = aws_launch_template.node[each.key].id
    version = aws_launch_template.node[each.key].latest_version
  }

  dynamic "taint" {
    for_each = each.value.taints
    content {
      key    = taint.value.key
      value  = taint.value.value
      effect = taint.value.effect
    }
  }

  tags = var.tags

  lifecycle {
    # The cluster autoscaler (or Karpenter) owns the desired size.
    ignore_changes = [scaling_config[0].desired_size]
  }

  depends_on = [aws_eks_addon.pre_node]
}

resource "aws_eks_addon" "post_node" {
  for_each = local.post_node_addons

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = each.value.addon_version
  resolve_conflicts_on_create = each.value.resolve_conflicts_on_create
  resolve_conflicts_on_update = each.value.resolve_conflicts_on_update
  configuration_values        = each.value.configuration_values

  tags = var.tags

  depends_on = [aws_eks_node_group.this]
}

# flowlib's service account gets the task role through EKS Pod Identity (the
# eks-pod-identity-agent add-on serves the credentials). The namespace and service account
# themselves are Kubernetes objects: `platform` creates them (no kubernetes provider here).
resource "aws_eks_pod_identity_association" "flowlib" {
  count = var.create_pod_identity_association ? 1 : 0

  cluster_name    = aws_eks_cluster.this.name
  namespace       = var.kubernetes_namespace
  service_account = var.kubernetes_service_account
  role_arn        = var.pod_identity_role_arn

  tags = var.tags
}
