# The Batch service role: created here (create_iam_role) or brought (iam_role_arn).
data "aws_iam_policy_document" "service_assume" {
  count = var.create_iam_role ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["batch.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "service" {
  count = var.create_iam_role ? 1 : 0

  name                 = coalesce(var.iam_role_name, "${var.name}-batch-service")
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  assume_role_policy   = data.aws_iam_policy_document.service_assume[0].json

  tags = merge(var.tags, var.iam_role_tags)
}

resource "aws_iam_role_policy_attachment" "service" {
  count = var.create_iam_role ? 1 : 0

  role       = aws_iam_role.service[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSBatchServiceRole"
}

locals {
  iam_role_arn = var.create_iam_role ? aws_iam_role.service[0].arn : var.iam_role_arn
}
