data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  managed    = "arn:${local.partition}:iam::aws:policy"

  create_ecs_instance_role = var.create_batch_roles && var.create_ecs_instance_role
  create_execution_role    = var.create_batch_roles && var.create_execution_role
  create_eks_node_role     = var.create_eks_roles && var.create_eks_node_role

  eks_node_policies = {
    worker = "${local.managed}/AmazonEKSWorkerNodePolicy"
    cni    = "${local.managed}/AmazonEKS_CNI_Policy"
    ecr    = "${local.managed}/AmazonEC2ContainerRegistryReadOnly"
  }
}

# ---------------------------------------------------------------------------------------------
# Task role: the identity of flowlib's steps on Batch (job role) and EKS (Pod Identity).
# Only its bucket prefix, its table and the table's indexes, and its keys through S3/DynamoDB.
# ---------------------------------------------------------------------------------------------

module "task_role" {
  source = "../service_role"
  count  = var.create_task_role ? 1 : 0

  name        = "${var.name}-task"
  description = "flowlib steps on Batch and EKS: the artifact prefix and metadata table only"
  trust = [
    for statement in [
      { sid = "BatchJobs", service = "ecs-tasks.amazonaws.com", actions = ["sts:AssumeRole"] },
      { sid = "EksPodIdentity", service = "pods.eks.amazonaws.com", actions = ["sts:AssumeRole", "sts:TagSession"] },
    ] : statement if statement.sid == "BatchJobs" || var.task_role_trust_eks_pod_identity
  ]
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = var.tags
}

moved {
  from = aws_iam_role.task[0]
  to   = module.task_role[0].aws_iam_role.this
}

# What the task role may do, and why each permission is there (README "Trust model"):
# - No s3:DeleteObject, no object-version actions (GetObjectVersion, ListBucketVersions,
#   DeleteObjectVersion) and no dynamodb:DeleteItem: flowlib only adds content-addressed
#   objects and records; nothing a step runs needs to remove or rewind them, so a step (or code
#   planted in one) cannot destroy history. Noncurrent versions stay out of its reach.
# - No dynamodb:BatchWriteItem either: IAM authorizes it as a whole, DeleteRequests included.
#   flowlib writes with PutItem, UpdateItem and TransactWriteItems, which IAM authorizes item
#   by item (PutItem, UpdateItem, ConditionCheckItem; there is no TransactWriteItems action).
# - s3:ListBucket is limited to the prefix. S3 answers a GET/HEAD of a missing key with 404
#   only to a caller allowed s3:ListBucket, else with 403; the blob store relies on that 404
#   (a first write HEADs the key). For that implicit check S3 evaluates s3:prefix as the
#   requested key, so a key under the prefix matches "<prefix>/*" and gets its 404.
# - kms only through S3 and DynamoDB (kms:ViaService): the role cannot decrypt anything else.
data "aws_iam_policy_document" "task" {
  count = var.create_task_role ? 1 : 0

  statement {
    sid       = "ListOwnPrefix"
    actions   = ["s3:ListBucket"]
    resources = [var.s3_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.s3_prefix, "${var.s3_prefix}/*"]
    }
  }

  statement {
    sid = "ReadWriteOwnPrefix"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:AbortMultipartUpload",
    ]
    resources = ["${var.s3_bucket_arn}/${var.s3_prefix}/*"]
  }

  statement {
    sid = "ReadWriteMetadataTable"
    actions = [
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:Query",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:ConditionCheckItem",
    ]
    resources = [var.dynamodb_table_arn, "${var.dynamodb_table_arn}/index/*"]
  }

  statement {
    sid       = "UseDataKeysThroughS3AndDynamoDB"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = var.kms_key_arns
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com", "dynamodb.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  count = var.create_task_role ? 1 : 0

  name   = "flowlib-data"
  role   = module.task_role[0].name
  policy = data.aws_iam_policy_document.task[0].json
}

# ---------------------------------------------------------------------------------------------
# Batch
# ---------------------------------------------------------------------------------------------

module "ecs_instance_role" {
  source = "../service_role"
  count  = local.create_ecs_instance_role ? 1 : 0

  name                 = "${var.name}-ecs-instance"
  trust                = [{ service = "ec2.amazonaws.com", this_account_only = false }]
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = var.tags
}

moved {
  from = aws_iam_role.ecs_instance[0]
  to   = module.ecs_instance_role[0].aws_iam_role.this
}

resource "aws_iam_role_policy_attachment" "ecs_instance" {
  count = local.create_ecs_instance_role ? 1 : 0

  role       = module.ecs_instance_role[0].name
  policy_arn = "${local.managed}/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "ecs_instance" {
  count = local.create_ecs_instance_role ? 1 : 0

  name = "${var.name}-ecs-instance"
  path = var.iam_role_path
  role = module.ecs_instance_role[0].name

  tags = var.tags
}

module "execution_role" {
  source = "../service_role"
  count  = local.create_execution_role ? 1 : 0

  name                 = "${var.name}-job-execution"
  trust                = [{ service = "ecs-tasks.amazonaws.com" }]
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = var.tags
}

moved {
  from = aws_iam_role.execution[0]
  to   = module.execution_role[0].aws_iam_role.this
}

resource "aws_iam_role_policy_attachment" "execution" {
  count = local.create_execution_role ? 1 : 0

  role       = module.execution_role[0].name
  policy_arn = "${local.managed}/service-role/AmazonECSTaskExecutionRolePolicy"
}

# ---------------------------------------------------------------------------------------------
# EKS
# ---------------------------------------------------------------------------------------------

module "eks_node_role" {
  source = "../service_role"
  count  = local.create_eks_node_role ? 1 : 0

  name                 = "${var.name}-eks-node"
  trust                = [{ service = "ec2.amazonaws.com", this_account_only = false }]
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = var.tags
}

moved {
  from = aws_iam_role.eks_node[0]
  to   = module.eks_node_role[0].aws_iam_role.this
}

resource "aws_iam_role_policy_attachment" "eks_node" {
  for_each = local.create_eks_node_role ? local.eks_node_policies : {}

  role       = module.eks_node_role[0].name
  policy_arn = each.value
}
