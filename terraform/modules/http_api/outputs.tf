output "api_endpoint" {
  description = "Base URL of the HTTP API (the $default stage): POST <url>/flows/<Flow>/runs."
  value       = try(aws_apigatewayv2_api.this[0].api_endpoint, null)
}

output "api_id" {
  description = "ID of the HTTP API."
  value       = try(aws_apigatewayv2_api.this[0].id, null)
}

output "execution_arn" {
  description = "Execution ARN of the API: grant callers execute-api:Invoke on \"<execution_arn>/*/*/flows/*\"."
  value       = try(aws_apigatewayv2_api.this[0].execution_arn, null)
}

output "function_name" {
  description = "Name of the Lambda function behind the API."
  value       = try(aws_lambda_function.this[0].function_name, null)
}

output "function_arn" {
  description = "ARN of the Lambda function behind the API."
  value       = try(aws_lambda_function.this[0].arn, null)
}

output "iam_role_arn" {
  description = "ARN of the function's execution role."
  value       = try(module.function_role[0].arn, null)
}

output "invoke_policy_json" {
  description = "An IAM policy allowing both routes of this API: attach it to the principals that may start flows over HTTP."
  value       = try(data.aws_iam_policy_document.invoke[0].json, null)
}
