terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }

  # Partial configuration: bucket, key, region and use_lockfile are given at init time,
  #   terraform init -backend-config=environments/<env>.s3.tfbackend
  # use_lockfile = true locks with a <key>.tflock object in the same bucket (Terraform 1.10+),
  # so no DynamoDB lock table is needed.
  backend "s3" {}
}
