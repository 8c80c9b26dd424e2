# flowlib's storage and AWS Batch in a VPC and with roles made elsewhere (by a platform or
# security team): nothing here creates a network or an IAM role. The Batch module is given
# its service role (create_iam_role = false, iam_role_arn), as terraform-aws-eks is.
module "kms" {
  source = "../../modules/kms"

  name = var.name
  tags = var.tags
}

module "artifacts" {
  source = "../../modules/artifacts"

  name        = var.name
  tags        = var.tags
  kms_key_arn = module.kms.key_arn
}

module "metadata" {
  source = "../../modules/metadata"

  name        = var.name
  tags        = var.tags
  kms_key_arn = module.kms.key_arn
}

module "batch" {
  source = "../../modules/batch"

  name = var.name
  tags = var.tags

  vpc_id     = var.vpc_id
  subnet_ids = var.subnet_ids

  create_iam_role      = false
  iam_role_arn         = var.batch_service_role_arn
  instance_profile_arn = var.batch_instance_profile_arn
  execution_role_arn   = var.batch_execution_role_arn
  job_role_arn         = var.task_role_arn
  job_definition_image = var.job_definition_image

  kms_key_arn = module.kms.key_arn
}
