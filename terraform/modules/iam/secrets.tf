# ---------------------------------------------------------------------------------------------
# Task role: read the environment's secrets (flowlib @secrets), and nothing else.
# Its own policy document and inline policy, beside the data policy in main.tf: steps read
# Secrets Manager secrets named <secrets_prefix>/* and Parameter Store parameters named
# /<secrets_prefix>/*, and decrypt them with the environment's key only through those two
# services. `platform secrets set ENV NAME` writes exactly there.
# ---------------------------------------------------------------------------------------------

locals {
  # Known at plan time (the key ARN may not be: it is checked by a precondition instead).
  create_task_secrets_policy = var.create_task_role && var.task_secrets_enabled && var.secrets_prefix != null
  secrets_prefix             = var.secrets_prefix == null ? "" : trim(var.secrets_prefix, "/")
}

data "aws_iam_policy_document" "task_secrets" {
  count = local.create_task_secrets_policy ? 1 : 0

  statement {
    sid     = "ReadEnvironmentSecrets"
    actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    # Secret ARNs end with a random 6-character suffix after the name.
    resources = ["arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${local.secrets_prefix}/*"]
  }

  statement {
    sid       = "ReadEnvironmentParameters"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter/${local.secrets_prefix}/*"]
  }

  statement {
    sid       = "DecryptEnvironmentSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.secrets_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com", "ssm.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "task_secrets" {
  count = local.create_task_secrets_policy ? 1 : 0

  name   = "flowlib-secrets"
  role   = module.task_role[0].name
  policy = data.aws_iam_policy_document.task_secrets[0].json

  lifecycle {
    precondition {
      condition     = var.secrets_kms_key_arn != null
      error_message = "secrets_kms_key_arn is required when secrets_prefix is set: the task role decrypts the environment's secrets with it."
    }
  }
}
