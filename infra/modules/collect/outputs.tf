output "function_name" {
  description = "Name of fn-collect (<prefix>-fn-collect)."
  value       = module.function.function_name
}

output "function_arn" {
  description = "Unqualified ARN of fn-collect (IAM grants on the function; the API and the URL invoke the live alias)."
  value       = module.function.function_arn
}

output "alias_name" {
  description = "fn-collect's alias the API and the function URL invoke (live), which CodeDeploy shifts."
  value       = module.function.alias_name
}

output "function_role_arn" {
  description = "ARN of fn-collect's IAM role."
  value       = module.function.role_arn
}

output "log_group_name" {
  description = "fn-collect's CloudWatch log group (/aws/lambda/<prefix>-fn-collect)."
  value       = module.function.log_group_name
}

output "api_id" {
  description = "ID of the HTTP API (the ApiId dimension of its AWS/ApiGateway metrics)."
  value       = aws_apigatewayv2_api.this.id
}

output "stage_name" {
  description = "Name of the API's auto-deployed stage: $default."
  value       = aws_apigatewayv2_stage.default.name
}

output "api_url" {
  description = "Where events are posted: the custom domain when set, else the execute-api endpoint, + /v1/events."
  value       = var.domain_name != "" ? "https://${var.domain_name}/v1/events" : "${aws_apigatewayv2_api.this.api_endpoint}/v1/events"
}

output "function_url" {
  description = "The function URL of the live alias, AWS_IAM (null when function_url is false)."
  value       = one(aws_lambda_function_url.this[*].function_url)
}

output "access_log_group_name" {
  description = "The API's access log group: one JSON object per request."
  value       = aws_cloudwatch_log_group.access.name
}
