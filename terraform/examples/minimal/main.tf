# The least flowlib needs on AWS: one KMS key, the artifact bucket, the metadata table and a
# role for steps. Flows run on the laptop (or wherever flowlib runs) and keep their artifacts
# and metadata in the account. No VPC, no compute.
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

module "iam" {
  source = "../../modules/iam"

  name = var.name
  tags = var.tags

  s3_bucket_arn      = module.artifacts.bucket_arn
  s3_prefix          = "flowlib"
  dynamodb_table_arn = module.metadata.table_arn
  kms_key_arns       = [module.kms.key_arn]

  create_batch_roles = false
  create_eks_roles   = false
}
