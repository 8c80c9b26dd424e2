data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id

  kms_key_arn    = var.kms_key_arn
  log_group_name = "/aws/batch/${var.name}"

  compute_environments = {
    for k, v in var.compute_environments : k => merge(v, {
      instance_types      = coalesce(v.instance_types, v.gpu ? ["g5.xlarge", "g5.2xlarge", "g5.4xlarge"] : ["optimal"])
      image_type          = coalesce(v.image_type, v.gpu ? "ECS_AL2_NVIDIA" : "ECS_AL2023")
      allocation_strategy = coalesce(v.allocation_strategy, v.type == "SPOT" ? "SPOT_PRICE_CAPACITY_OPTIMIZED" : "BEST_FIT_PROGRESSIVE")
    })
  }

  default_compute_environment = coalesce(var.default_compute_environment, sort(keys(var.compute_environments))[0])
}

# ---------------------------------------------------------------------------------------------
# Instances: private subnets, HTTPS out only, IMDSv2 required, encrypted root volume.
# ---------------------------------------------------------------------------------------------

resource "aws_security_group" "this" {
  name        = "${var.name}-batch"
  description = "Batch compute instances: no inbound, HTTPS outbound (AWS APIs, ECR, endpoints)"
  vpc_id      = var.vpc_id

  egress {
    description = "HTTPS to AWS APIs, image registries and VPC endpoints"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = merge(var.tags, { Name = "${var.name}-batch" })
}

resource "aws_launch_template" "this" {
  name                   = "${var.name}-batch"
  description            = "Batch compute instances: IMDSv2 required, encrypted root volume"
  update_default_version = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = var.launch_template_http_put_response_hop_limit
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_type           = "gp3"
      volume_size           = max([for v in local.compute_environments : v.root_volume_size]...)
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-batch" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = var.tags
  }

  tags = var.tags
}

resource "aws_batch_compute_environment" "this" {
  for_each = local.compute_environments

  compute_environment_name = "${var.name}-${each.key}"
  type                     = "MANAGED"
  state                    = "ENABLED"
  service_role             = local.iam_role_arn

  # Created after, and destroyed before, the service role's policy: Batch needs it for both.
  depends_on = [aws_iam_role_policy_attachment.service]

  compute_resources {
    type                = each.value.type
    allocation_strategy = each.value.allocation_strategy
    bid_percentage      = each.value.type == "SPOT" ? each.value.bid_percentage : null
    instance_type       = each.value.instance_types
    instance_role       = var.instance_profile_arn
    min_vcpus           = each.value.min_vcpus
    max_vcpus           = each.value.max_vcpus
    subnets             = var.subnet_ids
    security_group_ids  = [aws_security_group.this.id]

    launch_template {
      launch_template_id = aws_launch_template.this.id
      version            = aws_launch_template.this.latest_version
    }

    ec2_configuration {
      image_type = each.value.image_type
    }

    tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
  }

  tags = var.tags

  lifecycle {
    # Batch scales desired vCPUs itself.
    ignore_changes = [compute_resources[0].desired_vcpus]
  }
}

resource "aws_batch_job_queue" "this" {
  for_each = local.compute_environments

  name     = "${var.name}-${each.key}"
  state    = "ENABLED"
  priority = each.value.queue_priority

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.this[each.key].arn
  }

  # Jobs that can never start (no capacity, a CE too small, impossible requirements) are
  # cancelled instead of waiting in RUNNABLE for ever.
  dynamic "job_state_time_limit_action" {
    for_each = var.job_state_time_limit_actions
    content {
      action           = "CANCEL"
      state            = "RUNNABLE"
      reason           = job_state_time_limit_action.key
      max_time_seconds = job_state_time_limit_action.value
    }
  }

  tags = var.tags
}

# ---------------------------------------------------------------------------------------------
# Logs and the base job definition
# ---------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.cloudwatch_log_group_retention_in_days
  kms_key_id        = local.kms_key_arn

  tags = var.tags
}

resource "aws_batch_job_definition" "this" {
  name                  = "${var.name}-base"
  type                  = "container"
  platform_capabilities = ["EC2"]
  propagate_tags        = true

  container_properties = jsonencode({
    image            = var.job_definition_image
    command          = ["python3", "--version"]
    jobRoleArn       = var.job_role_arn
    executionRoleArn = var.execution_role_arn
    resourceRequirements = [
      { type = "VCPU", value = tostring(var.job_definition_vcpus) },
      { type = "MEMORY", value = tostring(var.job_definition_memory) },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.this.name
        "awslogs-region"        = local.region
        "awslogs-stream-prefix" = "flowlib"
      }
    }
    privileged = false
  })

  retry_strategy {
    attempts = var.job_definition_retry_attempts
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
    attempt_duration_seconds = var.job_definition_attempt_duration_seconds
  }

  tags = var.tags
}
