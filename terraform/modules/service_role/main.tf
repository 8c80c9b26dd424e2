# One IAM role that AWS services assume on the environment's behalf. Every role of the stack is
# made here, so each one gets the stack's path, permissions boundary and tags (organisations
# that require a boundary refuse to create a role without it) and a trust policy limited to the
# services named, by default from this account only (aws:SourceAccount, the confused-deputy
# guard). What a role may do stays next to the feature that needs it: callers attach their
# policies to `name`, with the reasons for each permission.

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "trust" {
  dynamic "statement" {
    for_each = var.trust
    content {
      sid     = statement.value.sid
      actions = statement.value.actions
      principals {
        type        = "Service"
        identifiers = [statement.value.service]
      }
      dynamic "condition" {
        for_each = statement.value.this_account_only ? [data.aws_caller_identity.current.account_id] : []
        content {
          test     = "StringEquals"
          variable = "aws:SourceAccount"
          values   = [condition.value]
        }
      }
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  description          = var.description
  path                 = var.path
  permissions_boundary = var.permissions_boundary
  assume_role_policy   = data.aws_iam_policy_document.trust.json

  tags = var.tags
}
