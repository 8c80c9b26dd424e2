# Resources that moved between modules keep their identity: Terraform moves them in the state
# instead of destroying and re-creating them (a re-created KMS key would leave the data
# encrypted with the old one unreadable; a re-created role would interrupt running jobs).

# The stack's KMS key, from the root into modules/kms: see kms.tf.

# The Batch service role and the EKS cluster role, from modules/iam into the modules that use
# them (create_iam_role / iam_role_arn, as in terraform-aws-eks).
moved {
  from = module.iam.aws_iam_role.batch_service[0]
  to   = module.batch[0].aws_iam_role.service[0]
}

moved {
  from = module.iam.aws_iam_role_policy_attachment.batch_service[0]
  to   = module.batch[0].aws_iam_role_policy_attachment.service[0]
}

moved {
  from = module.iam.aws_iam_role.eks_cluster[0]
  to   = module.eks[0].aws_iam_role.service[0]
}

moved {
  from = module.iam.aws_iam_role_policy_attachment.eks_cluster[0]
  to   = module.eks[0].aws_iam_role_policy_attachment.service[0]
}
