# Retention: the policy flowlib's gc applies (written into the environment's flowlib profiles by
# the root stack's flowlib_config output), an optional scheduled gc (EventBridge Scheduler
# submits a Batch job on the environment's queue, no server of our own), and the activation of
# flowlib's cost-allocation tags in Billing.
#
# The gc job runs as a role of its own: the task role deliberately cannot delete (see the
# README's trust model), gc must. Its policy is exactly what `flowlib gc` calls, on the
# environment's prefixes and tables only.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  create    = var.create_gc_schedule

  bucket_name = try(element(split(":", var.s3_bucket_arn), 5), null)

  # --- the policy as flowlib profile keys (strings, null when unset) --------------------------
  # flowlib's rule (RetentionPolicy.check): a policy whose count and age are both 0 or unset,
  # but not both unset (no policy at all, which gc refuses by itself), keeps nothing. A flow's
  # override replaces only the fields it sets.
  keep_nothing = (var.keep_last != null || var.keep_days != null) && coalesce(var.keep_last, 0) == 0 && coalesce(var.keep_days, 0) == 0
  flows_keeping_nothing = sort([
    for flow, p in var.flow_policies : flow
    if(p.keep_last != null || p.keep_days != null)
    && coalesce(p.keep_last != null ? p.keep_last : var.keep_last, 0) == 0
    && coalesce(p.keep_days != null ? p.keep_days : var.keep_days, 0) == 0
  ])
  flow_keep_last = { for flow, p in var.flow_policies : flow => tostring(p.keep_last) if p.keep_last != null }
  flow_keep_days = { for flow, p in var.flow_policies : flow => tostring(p.keep_days) if p.keep_days != null }
  profile_keys = {
    retention_keep_last      = var.keep_last == null ? null : tostring(var.keep_last)
    retention_keep_days      = var.keep_days == null ? null : tostring(var.keep_days)
    retention_grace_hours    = var.grace_hours == null ? null : tostring(var.grace_hours)
    retention_flow_keep_last = length(local.flow_keep_last) == 0 ? null : local.flow_keep_last
    retention_flow_keep_days = length(local.flow_keep_days) == 0 ? null : local.flow_keep_days
  }

  # --- the gc job: a flowlib config file with one profile per store, in its environment ------
  gc_profiles = {
    for profile, store in var.stores : profile => merge(
      {
        datastore      = "s3"
        metadata       = "dynamodb"
        region         = var.region
        s3_bucket      = local.bucket_name
        s3_prefix      = store.s3_prefix
        dynamodb_table = store.dynamodb_table
        environment    = var.environment
      },
      var.s3_kms_key_arn == null ? {} : { s3_kms_key_arn = var.s3_kms_key_arn },
      { for k, v in local.profile_keys : k => v if v != null },
    )
  }
  gc_config = jsonencode({ schema_version = 1, profiles = local.gc_profiles })
  gc_args   = var.allow_delete_all ? "--delete-all" : ""

  job_definition_name = "${var.name}-gc"
  job_definition_arn  = var.region == null ? null : "arn:${local.partition}:batch:${var.region}:${local.account}:job-definition/${local.job_definition_name}"
  prefixes            = distinct([for store in values(var.stores) : store.s3_prefix])
  table_arns          = distinct([for store in values(var.stores) : store.dynamodb_table_arn])
}

# ---------------------------------------------------------------------------------------------
# The gc job: definition and role
# ---------------------------------------------------------------------------------------------

module "gc_role" {
  source = "../service_role"
  count  = local.create ? 1 : 0

  name                 = "${var.name}-gc"
  description          = "flowlib's scheduled gc: list, read and delete under the environment's prefixes and tables"
  trust                = [{ service = "ecs-tasks.amazonaws.com" }]
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = var.tags
}

moved {
  from = aws_iam_role.gc[0]
  to   = module.gc_role[0].aws_iam_role.this
}

data "aws_iam_policy_document" "gc" {
  count = local.create ? 1 : 0

  # ListObjectVersions is authorized as s3:ListBucketVersions: gc lists the versions it will
  # delete, so a version a task writes after the listing survives the delete.
  statement {
    sid       = "ListOwnPrefixes"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = [var.s3_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = flatten([for p in local.prefixes : [p, "${p}/*"]])
    }
  }

  # DeleteObjects (1,000 keys a request) naming version ids is authorized per key as
  # s3:DeleteObjectVersion. The only objects gc reads are the holds of deployed flows (the blobs
  # a deployment runs, kept whatever the policy): the live set comes from the table and those.
  statement {
    sid       = "DeleteUnderOwnPrefixes"
    actions   = ["s3:DeleteObjectVersion"]
    resources = [for p in local.prefixes : "${var.s3_bucket_arn}/${p}/*"]
  }

  statement {
    sid       = "ReadDeploymentHolds"
    actions   = ["s3:GetObject"]
    resources = [for p in local.prefixes : "${var.s3_bucket_arn}/${p}/*/entries/holds/*"]
  }

  # Query/GetItem: runs and their references; UpdateItem: the conditional removing/removed
  # marks; BatchWriteItem: deleting a removed run's task, attempt, artifact and tag items.
  # tests/terraform/test_retention_gc_permissions.py records what gc calls: exactly these.
  statement {
    sid = "ReadMarkAndDeleteRunRecords"
    actions = [
      "dynamodb:Query",
      "dynamodb:GetItem",
      "dynamodb:UpdateItem",
      "dynamodb:BatchWriteItem",
    ]
    resources = flatten([for t in local.table_arns : [t, "${t}/index/*"]])
  }

  dynamic "statement" {
    for_each = var.s3_kms_key_arn == null ? [] : [var.s3_kms_key_arn]
    content {
      sid       = "UseDataKeysThroughS3AndDynamoDB"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${var.region}.amazonaws.com", "dynamodb.${var.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "gc" {
  count = local.create ? 1 : 0

  name   = "flowlib-gc"
  role   = module.gc_role[0].name
  policy = data.aws_iam_policy_document.gc[0].json
}

resource "aws_batch_job_definition" "gc" {
  count = local.create ? 1 : 0

  name                  = local.job_definition_name
  type                  = "container"
  platform_capabilities = ["EC2"]
  propagate_tags        = true

  container_properties = jsonencode({
    image = var.gc_image
    # gc_job.py: writes the profiles to a config file, runs `flowlib gc --yes` on each.
    command          = ["python", "-c", file("${path.module}/gc_job.py")]
    jobRoleArn       = module.gc_role[0].arn
    executionRoleArn = var.execution_role_arn
    environment = [
      { name = "FLOWLIB_CONFIG", value = "/tmp/flowlib-gc-config.json" },
      { name = "FLOWLIB_GC_CONFIG_JSON", value = local.gc_config },
      { name = "FLOWLIB_GC_ARGS", value = local.gc_args },
      { name = "FLOWLIB_GC_PIP", value = var.gc_pip_requirements == null ? "" : var.gc_pip_requirements },
    ]
    resourceRequirements = [
      { type = "VCPU", value = tostring(var.gc_vcpus) },
      { type = "MEMORY", value = tostring(var.gc_memory) },
    ]
    logConfiguration = var.cloudwatch_log_group_name == null ? null : {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = var.cloudwatch_log_group_name
        "awslogs-region"        = var.region
        "awslogs-stream-prefix" = "flowlib-gc"
      }
    }
    privileged = false
  })

  # A host lost (Spot reclaim, scale-in) retries; a failed gc does not: killed anywhere, the
  # store stays consistent and the next scheduled run finishes what this one started.
  retry_strategy {
    attempts = 2
    evaluate_on_exit {
      on_status_reason = "Host EC2*"
      action           = "RETRY"
    }
    evaluate_on_exit {
      on_reason = "*"
      action    = "EXIT"
    }
  }

  timeout {
    attempt_duration_seconds = var.gc_attempt_duration_seconds
  }

  tags = merge(var.tags, { "flowlib:flow" = "_gc" })
}

# ---------------------------------------------------------------------------------------------
# The schedule: EventBridge Scheduler's universal target calls batch:SubmitJob
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "scheduler" {
  count = local.create ? 1 : 0

  statement {
    sid     = "SubmitTheGcJob"
    actions = ["batch:SubmitJob"]
    resources = compact([
      var.gc_job_queue_arn,
      local.job_definition_arn,
      "${local.job_definition_arn}:*",
    ])
  }
}

module "scheduler_role" {
  source = "../service_role"
  count  = local.create ? 1 : 0

  name                 = "${var.name}-gc-scheduler"
  description          = "EventBridge Scheduler: submit flowlib's gc job to the environment's queue"
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
  count = local.create ? 1 : 0

  name   = "flowlib-submit-gc"
  role   = module.scheduler_role[0].name
  policy = data.aws_iam_policy_document.scheduler[0].json
}

resource "aws_scheduler_schedule" "gc" {
  #checkov:skip=CKV_AWS_297:The schedule's only data is the gc job's name, queue and definition ARNs, nothing confidential; Scheduler encrypts it with an AWS-owned key.
  count = local.create ? 1 : 0

  name        = "${var.name}-gc"
  description = "flowlib gc --yes for environment ${var.environment} (terraform/modules/retention)"

  schedule_expression          = var.gc_schedule_expression
  schedule_expression_timezone = var.gc_schedule_timezone
  state                        = "ENABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = "arn:${local.partition}:scheduler:::aws-sdk:batch:submitJob"
    role_arn = module.scheduler_role[0].arn
    input = jsonencode({
      JobName       = "${var.name}-gc"
      JobQueue      = var.gc_job_queue_arn
      JobDefinition = aws_batch_job_definition.gc[0].arn
    })

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }
  }

  depends_on = [aws_iam_role_policy.scheduler]
}

# ---------------------------------------------------------------------------------------------
# Cost-allocation tags
# ---------------------------------------------------------------------------------------------

resource "aws_ce_cost_allocation_tag" "this" {
  for_each = var.activate_cost_allocation_tags ? toset(var.cost_allocation_tag_keys) : toset([])

  tag_key = each.value
  status  = "Active"
}
