# The EKS cluster service role: created here (create_iam_role) or brought (iam_role_arn).
module "service_role" {
  source = "../service_role"
  count  = var.create_iam_role ? 1 : 0

  name                 = coalesce(var.iam_role_name, "${var.name}-eks-cluster")
  trust                = [{ service = "eks.amazonaws.com", actions = ["sts:AssumeRole", "sts:TagSession"], this_account_only = false }]
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = merge(var.tags, var.iam_role_tags)
}

moved {
  from = aws_iam_role.service[0]
  to   = module.service_role[0].aws_iam_role.this
}

resource "aws_iam_role_policy_attachment" "service" {
  count = var.create_iam_role ? 1 : 0

  role       = module.service_role[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

locals {
  iam_role_arn = var.create_iam_role ? module.service_role[0].arn : var.iam_role_arn
}
