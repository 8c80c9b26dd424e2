# What @trigger, @trigger_on_finish, @trigger(s3=...) and Event.publish need: the
# environment's event bus, the role EventBridge starts this environment's state machines with,
# events:PutEvents on that bus for the task roles (a production run's end publishes
# flowlib.flow_finished; steps may publish their own events), and S3 EventBridge notifications
# on the buckets flows may be triggered from. The rules themselves are made by flowlib's
# `step-functions create`, one per trigger.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition

  create_bus  = var.create && var.create_event_bus
  create_role = var.create && var.create_iam_role

  # A bus of the environment's own keeps environments of one account apart: an event
  # published in dev never starts prod's flows. S3 notifications always go to the account's
  # default bus; flowlib puts S3 trigger rules there.
  event_bus_name = local.create_bus ? aws_cloudwatch_event_bus.this[0].name : coalesce(var.event_bus_name, "default")
  event_bus_arn  = "arn:${local.partition}:events:${local.region}:${local.account}:event-bus/${local.event_bus_name}"
  state_machines = "arn:${local.partition}:states:${local.region}:${local.account}:stateMachine:${var.state_machine_name_prefix}*"
}

resource "aws_cloudwatch_event_bus" "this" {
  count = local.create_bus ? 1 : 0
  name  = var.name
  tags  = var.tags
}

# --- the role EventBridge starts state machines with ----------------------------------------

data "aws_iam_policy_document" "start" {
  statement {
    sid       = "StartTheEnvironmentsStateMachines"
    actions   = ["states:StartExecution"]
    resources = [local.state_machines]
  }
}

module "role" {
  source = "../service_role"
  count  = local.create_role ? 1 : 0

  name                 = "${var.name}-flowlib-events"
  description          = "EventBridge: start the environment's state machines on @trigger events"
  trust                = [{ service = "events.amazonaws.com" }]
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = var.tags
}

moved {
  from = aws_iam_role.this[0]
  to   = module.role[0].aws_iam_role.this
}

resource "aws_iam_role_policy" "this" {
  count  = local.create_role ? 1 : 0
  name   = "flowlib-start-executions"
  role   = module.role[0].name
  policy = data.aws_iam_policy_document.start.json
}

# --- publishing from tasks -------------------------------------------------------------------

data "aws_iam_policy_document" "put_events" {
  statement {
    sid       = "PublishOnTheEnvironmentsBus"
    actions   = ["events:PutEvents"]
    resources = [local.event_bus_arn]
  }
}

resource "aws_iam_role_policy" "put_events" {
  for_each = var.create ? var.task_role_names : {}
  name     = "flowlib-put-events"
  role     = each.value
  policy   = data.aws_iam_policy_document.put_events.json
}

# --- S3 -> EventBridge ---------------------------------------------------------------------------

# A bucket has one notification configuration: this resource owns all of it. A bucket that
# already sends notifications elsewhere (SQS, SNS, Lambda) must not be listed here: turn
# EventBridge on in that bucket's own configuration instead.
resource "aws_s3_bucket_notification" "this" {
  for_each    = var.create ? var.s3_bucket_names : {}
  bucket      = each.value
  eventbridge = true
}
