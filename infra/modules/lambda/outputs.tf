output "function_name" {
  description = "Name of the function (<prefix>-<binary>)."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "Unqualified ARN of the function: for IAM grants on the function and its versions (<arn>:*), never for a trigger (they invoke alias_arn)."
  value       = aws_lambda_function.this.arn
}

output "alias_name" {
  description = "Name of the alias every trigger invokes (live): the qualifier of permissions and function URLs."
  value       = aws_lambda_alias.live.name
}

output "alias_arn" {
  description = "ARN of the live alias (<function ARN>:live): what event source mappings, schedules and integrations invoke."
  value       = aws_lambda_alias.live.arn
}

output "version" {
  description = "The latest version Terraform published; the live alias reaches it through CodeDeploy (scripts/deploy-functions.py)."
  value       = aws_lambda_function.this.version
}

output "role_arn" {
  description = "ARN of the function's IAM role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the function's IAM role (<prefix>-<binary>)."
  value       = aws_iam_role.this.name
}

output "log_group_name" {
  description = "The function's CloudWatch log group (/aws/lambda/<prefix>-<binary>)."
  value       = aws_cloudwatch_log_group.this.name
}
