# One customer-managed key for the whole stack (modules/kms): artifacts, metadata table, log
# groups, EKS secrets and ECR. Every module takes its ARN; none makes a key of its own.
module "kms" {
  source = "./modules/kms"
  count  = var.create_kms_key ? 1 : 0

  name = local.name
  tags = local.tags
}

# The key used to live in the root stack itself: move it, never replace it (data encrypted
# with it would be unreadable).
moved {
  from = aws_kms_key.this[0]
  to   = module.kms[0].aws_kms_key.this
}

moved {
  from = aws_kms_alias.this[0]
  to   = module.kms[0].aws_kms_alias.this[0]
}
