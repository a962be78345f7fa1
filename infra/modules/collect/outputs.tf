output "function_name" {
  value = module.function.function_name
}

output "function_role_arn" {
  value = module.function.role_arn
}

output "log_group_name" {
  value = module.function.log_group_name
}

output "api_id" {
  value = aws_apigatewayv2_api.this.id
}

output "stage_name" {
  value = aws_apigatewayv2_stage.default.name
}

output "api_url" {
  description = "Where events are posted: the custom domain when set, else the execute-api endpoint, + /v1/events."
  value       = var.domain_name != "" ? "https://${var.domain_name}/v1/events" : "${aws_apigatewayv2_api.this.api_endpoint}/v1/events"
}

output "function_url" {
  description = "The function URL (null when function_url is false)."
  value       = one(aws_lambda_function_url.this[*].function_url)
}

output "access_log_group_name" {
  value = aws_cloudwatch_log_group.access.name
}
