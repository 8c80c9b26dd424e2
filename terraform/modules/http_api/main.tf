# The environment's HTTP endpoint (flowlib.http_api): an API Gateway HTTP API whose two routes
# require AWS_IAM authorization (SigV4-signed requests from principals granted
# execute-api:Invoke; nothing is public), integrated with one Lambda function running
# flowlib.http_api.handler.handler. The function starts deployed flows (state machines named
# "<environment>-..." by `step-functions create`) and reads runs, with a role scoped to this
# environment's state machines, bucket prefix, metadata table and key.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account        = data.aws_caller_identity.current.account_id
  region         = data.aws_region.current.name
  partition      = data.aws_partition.current.partition
  function_name  = "${var.name}-flowlib-http-api"
  state_machines = "arn:${local.partition}:states:${local.region}:${local.account}:stateMachine:${var.environment}-*"
  objects        = var.s3_prefix == "" ? "${var.bucket_arn}/*" : "${var.bucket_arn}/${var.s3_prefix}/*"
  list_prefixes  = var.s3_prefix == "" ? ["*"] : [var.s3_prefix, "${var.s3_prefix}/*"]
  routes = {
    start  = "POST /flows/{flow}/runs"
    status = "GET /flows/{flow}/runs/{id}"
  }
}

# -- the function's role -------------------------------------------------------------------
data "aws_iam_policy_document" "function" {
  statement {
    sid       = "ListDeploymentRecords"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = local.list_prefixes
    }
  }
  statement {
    sid       = "ReadRecordsWriteParameters"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.objects]
  }
  statement {
    sid = "AllocateAndReadRuns"
    actions = [
      "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
      "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem",
    ]
    resources = [var.table_arn, "${var.table_arn}/index/*"]
  }
  statement {
    sid       = "StartTheEnvironmentsStateMachines"
    actions   = ["states:StartExecution"]
    resources = [local.state_machines]
  }
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${try(aws_cloudwatch_log_group.function[0].arn, "")}:*"]
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseDataKeysThroughS3AndDynamoDB"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com", "dynamodb.${local.region}.amazonaws.com"]
      }
    }
  }
}

module "function_role" {
  source = "../service_role"
  count  = var.create ? 1 : 0

  name                 = "${var.name}-flowlib-http-api"
  description          = "flowlib HTTP endpoint: start the environment's deployed flows and read its runs"
  trust                = [{ service = "lambda.amazonaws.com" }]
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = var.tags
}

moved {
  from = aws_iam_role.this[0]
  to   = module.function_role[0].aws_iam_role.this
}

resource "aws_iam_role_policy" "this" {
  count  = var.create ? 1 : 0
  name   = "flowlib-http-api"
  role   = module.function_role[0].name
  policy = data.aws_iam_policy_document.function.json
}

# -- the function --------------------------------------------------------------------------
resource "aws_cloudwatch_log_group" "function" {
  count             = var.create ? 1 : 0
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.cloudwatch_log_group_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:invoked synchronously by API Gateway only; a dead-letter queue applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:reaches only S3, DynamoDB and Step Functions APIs over IAM; a VPC would need NAT or three interface endpoints for nothing gained.
  #checkov:skip=CKV_AWS_272:the package is built by `platform` from the installed flowlib; code signing would need a signing profile the platform does not manage.
  #checkov:skip=CKV_AWS_115:concurrency is bounded by the stage's throttling (throttling_rate_limit, throttling_burst_limit).
  count = var.create ? 1 : 0

  function_name    = local.function_name
  description      = "flowlib HTTP endpoint: start deployed flows, read runs (${var.environment})"
  role             = module.function_role[0].arn
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)
  handler          = "flowlib.http_api.handler.handler"
  runtime          = var.runtime
  architectures    = [var.architecture]
  memory_size      = var.memory_size
  timeout          = var.timeout
  kms_key_arn      = var.kms_key_arn

  environment {
    variables = {
      FLOWLIB_CONFIG         = "env"
      FLOWLIB_PROFILE        = var.environment
      FLOWLIB_ENVIRONMENT    = var.environment
      FLOWLIB_DATASTORE      = "s3"
      FLOWLIB_S3_BUCKET      = var.bucket_name
      FLOWLIB_S3_PREFIX      = var.s3_prefix
      FLOWLIB_S3_KMS_KEY_ARN = var.kms_key_arn == null ? "" : var.kms_key_arn
      FLOWLIB_METADATA       = "dynamodb"
      FLOWLIB_DYNAMODB_TABLE = var.table_name
      FLOWLIB_REGION         = local.region
    }
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.function, aws_iam_role_policy.this]
  tags       = var.tags
}

# -- the API ---------------------------------------------------------------------------------
resource "aws_apigatewayv2_api" "this" {
  count         = var.create ? 1 : 0
  name          = "${var.name}-flowlib"
  description   = "flowlib HTTP endpoint (${var.environment}): IAM-authorized routes only"
  protocol_type = "HTTP"
  tags          = var.tags
}

resource "aws_apigatewayv2_integration" "function" {
  count                  = var.create ? 1 : 0
  api_id                 = aws_apigatewayv2_api.this[0].id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.this[0].invoke_arn
  integration_method     = "POST"
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

resource "aws_apigatewayv2_route" "this" {
  for_each           = var.create ? local.routes : {}
  api_id             = aws_apigatewayv2_api.this[0].id
  route_key          = each.value
  authorization_type = "AWS_IAM"
  target             = "integrations/${aws_apigatewayv2_integration.function[0].id}"
}

resource "aws_cloudwatch_log_group" "access" {
  count             = var.create ? 1 : 0
  name              = "/aws/apigateway/${var.name}-flowlib"
  retention_in_days = var.cloudwatch_log_group_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "default" {
  count       = var.create ? 1 : 0
  api_id      = aws_apigatewayv2_api.this[0].id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.throttling_rate_limit
    throttling_burst_limit = var.throttling_burst_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access[0].arn
    format = jsonencode({
      requestId = "$context.requestId", caller = "$context.identity.userArn",
      route     = "$context.routeKey", status = "$context.status",
      time      = "$context.requestTime", latency = "$context.integrationLatency",
      error     = "$context.integrationErrorMessage"
    })
  }

  tags = var.tags
}

resource "aws_lambda_permission" "api" {
  count         = var.create ? 1 : 0
  statement_id  = "AllowInvokeFromTheEnvironmentsHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[0].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this[0].execution_arn}/*/*/flows/*"
}

# What a caller needs: attach to the principals allowed to start flows over HTTP.
data "aws_iam_policy_document" "invoke" {
  count = var.create ? 1 : 0
  statement {
    sid       = "InvokeFlowlibHttpApi"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_apigatewayv2_api.this[0].execution_arn}/*/*/flows/*"]
  }
}
