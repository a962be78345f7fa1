output "function_name" {
  description = "Name of the function (<prefix>-<binary>)."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the function, for event source mappings, permissions and integrations."
  value       = aws_lambda_function.this.arn
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
