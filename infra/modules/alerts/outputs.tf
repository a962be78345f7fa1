output "topic_arn" {
  value = aws_sns_topic.alerts.arn
}

output "topic_name" {
  value = aws_sns_topic.alerts.name
}

# The rest are null when the module is not enabled.

output "windows_table_name" {
  value = one(aws_dynamodb_table.windows[*].name)
}

output "windows_table_arn" {
  value = one(aws_dynamodb_table.windows[*].arn)
}

output "state_table_name" {
  value = one(aws_dynamodb_table.state[*].name)
}

output "state_table_arn" {
  value = one(aws_dynamodb_table.state[*].arn)
}

output "function_name" {
  value = one(module.function[*].function_name)
}
