# The stack's one customer-managed key (1 USD/month): artifacts, metadata table, log groups,
# EKS secrets and ECR. Every other module takes its ARN (kms_key_arn) instead of making a key
# of its own. The task role may use it only through S3 and DynamoDB (kms:ViaService, in
# modules/iam), so sharing it does not widen what steps can decrypt.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
}

data "aws_iam_policy_document" "this" {
  #checkov:skip=CKV_AWS_109:Key policy: resource "*" means this key; the CloudWatch Logs grant is limited to this account's log groups by kms:EncryptionContext:aws:logs:arn.
  #checkov:skip=CKV_AWS_111:Key policy: resource "*" means this key; the CloudWatch Logs grant is limited to this account's log groups by kms:EncryptionContext:aws:logs:arn.
  #checkov:skip=CKV_AWS_356:Key policy: resource "*" means this key; the CloudWatch Logs grant is limited to this account's log groups by kms:EncryptionContext:aws:logs:arn.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  dynamic "statement" {
    for_each = var.cloudwatch_logs_enabled ? [1] : []
    content {
      sid       = "CloudWatchLogsUse"
      actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = ["logs.${local.region}.amazonaws.com"]
      }
      condition {
        test     = "ArnLike"
        variable = "kms:EncryptionContext:aws:logs:arn"
        values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
      }
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: ${var.description}"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.this.json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.create_alias ? 1 : 0

  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
