# One customer-managed key for the whole stack (1 USD/month): artifacts, metadata table, log
# groups, EKS secrets and ECR. The task role may use it only through S3 and DynamoDB
# (kms:ViaService), so sharing it does not widen what steps can decrypt.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_iam_policy_document" "kms" {
  count = var.create_kms_key ? 1 : 0

  #checkov:skip=CKV_AWS_109:Key policy: resource "*" means this key; the CloudWatch Logs grant is limited to this account's log groups by kms:EncryptionContext:aws:logs:arn.
  #checkov:skip=CKV_AWS_111:Key policy: resource "*" means this key; the CloudWatch Logs grant is limited to this account's log groups by kms:EncryptionContext:aws:logs:arn.
  #checkov:skip=CKV_AWS_356:Key policy: resource "*" means this key; the CloudWatch Logs grant is limited to this account's log groups by kms:EncryptionContext:aws:logs:arn.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsUse"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "this" {
  count = var.create_kms_key ? 1 : 0

  description             = "${local.name}: artifacts, metadata, logs, EKS secrets, images"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms[0].json

  tags = local.tags
}

resource "aws_kms_alias" "this" {
  count = var.create_kms_key ? 1 : 0

  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.this[0].key_id
}
