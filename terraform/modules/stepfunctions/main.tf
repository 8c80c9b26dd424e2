# What flowlib's `step-functions create` needs: an execution role scoped to this environment's
# queues, job definitions, bucket and table; a role EventBridge Scheduler uses to start the
# state machines; a log group for execution history. State machines and schedules themselves
# are made by flowlib (one per deployed flow), named "<environment>-...".

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  create_role      = var.create && var.create_iam_role
  create_scheduler = var.create && var.create_scheduler_role
  account          = data.aws_caller_identity.current.account_id
  region           = data.aws_region.current.name
  partition        = data.aws_partition.current.partition
  job_definitions  = "arn:${local.partition}:batch:${local.region}:${local.account}:job-definition/${var.flow_name_prefix}*"
  state_machines   = "arn:${local.partition}:states:${local.region}:${local.account}:stateMachine:${var.flow_name_prefix}*"
  executions       = "arn:${local.partition}:states:${local.region}:${local.account}:execution:${var.flow_name_prefix}*"
}

resource "aws_cloudwatch_log_group" "this" {
  count             = var.create ? 1 : 0
  name              = "/aws/vendedlogs/states/${var.name}-flowlib"
  retention_in_days = var.cloudwatch_log_group_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "sfn" {
  #checkov:skip=CKV_AWS_111:CloudWatch Logs delivery actions and batch:DescribeJobs have no resource-level permissions; every other action is scoped to the environment.
  #checkov:skip=CKV_AWS_356:CloudWatch Logs delivery actions and batch:DescribeJobs have no resource-level permissions; every other action is scoped to the environment.
  statement {
    sid       = "SubmitToTheEnvironmentsQueues"
    actions   = ["batch:SubmitJob"]
    resources = concat(var.job_queue_arns, [local.job_definitions])
  }
  statement {
    sid       = "FollowJobs"
    actions   = ["batch:DescribeJobs"]
    resources = ["*"] # DescribeJobs has no resource-level permissions
  }
  statement {
    sid       = "StopAndTagJobs"
    actions   = ["batch:TerminateJob", "batch:TagResource"]
    resources = ["arn:${local.partition}:batch:${local.region}:${local.account}:job/*"]
  }
  statement {
    sid       = "BatchSyncRule"
    actions   = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
    resources = ["arn:${local.partition}:events:${local.region}:${local.account}:rule/StepFunctionsGetEventsForBatchJobsRule"]
  }
  statement {
    sid       = "ReadControlRecords"
    actions   = ["dynamodb:GetItem"]
    resources = [var.table_arn]
  }
  statement {
    # A wide foreach runs as a Distributed Map: each iteration is a child execution of the
    # same state machine, which the parent starts, follows and stops.
    sid       = "RunDistributedMapChildren"
    actions   = ["states:StartExecution"]
    resources = [local.state_machines]
  }
  statement {
    sid       = "FollowDistributedMapChildren"
    actions   = ["states:DescribeExecution", "states:StopExecution"]
    resources = [local.executions]
  }
  statement {
    sid       = "ReadForeachItems"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arn}/*"]
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "DecryptWithTheEnvironmentsKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
  statement {
    sid = "ExecutionLogs"
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    ]
    resources = ["*"] # log delivery APIs have no resource-level permissions
  }
}

module "sfn_role" {
  source = "../service_role"
  count  = local.create_role ? 1 : 0

  name                 = "${var.name}-flowlib-sfn"
  description          = "flowlib's state machines: run the environment's Batch jobs and follow them"
  trust                = [{ service = "states.amazonaws.com" }]
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = var.tags
}

moved {
  from = aws_iam_role.sfn[0]
  to   = module.sfn_role[0].aws_iam_role.this
}

resource "aws_iam_role_policy" "sfn" {
  count  = local.create_role ? 1 : 0
  name   = "flowlib-step-functions"
  role   = module.sfn_role[0].name
  policy = data.aws_iam_policy_document.sfn.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "StartTheEnvironmentsStateMachines"
    actions   = ["states:StartExecution"]
    resources = [local.state_machines]
  }
}

module "scheduler_role" {
  source = "../service_role"
  count  = local.create_scheduler ? 1 : 0

  name                 = "${var.name}-flowlib-scheduler"
  description          = "EventBridge Scheduler: start the environment's state machines on @schedule"
  trust                = [{ service = "scheduler.amazonaws.com" }]
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = var.tags
}

moved {
  from = aws_iam_role.scheduler[0]
  to   = module.scheduler_role[0].aws_iam_role.this
}

resource "aws_iam_role_policy" "scheduler" {
  count  = local.create_scheduler ? 1 : 0
  name   = "flowlib-start-executions"
  role   = module.scheduler_role[0].name
  policy = data.aws_iam_policy_document.scheduler.json
}
