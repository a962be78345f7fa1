output "topic_arn" {
  description = "ARN of the encrypted SNS topic every alert and alarm is published to; always created."
  value       = aws_sns_topic.alerts.arn
}

output "topic_name" {
  description = "Name of the alerts topic (<prefix>-alerts)."
  value       = aws_sns_topic.alerts.name
}

# The rest are null when the module is not enabled.

output "windows_table_name" {
  description = "Name of the alert-windows DynamoDB table (ALERT_WINDOWS_TABLE); null when enabled is false."
  value       = one(aws_dynamodb_table.windows[*].name)
}

output "windows_table_arn" {
  description = "ARN of the alert-windows table, for the writers' policies; null when enabled is false."
  value       = one(aws_dynamodb_table.windows[*].arn)
}

output "state_table_name" {
  description = "Name of the alert-state DynamoDB table (ALERT_STATE_TABLE); null when enabled is false."
  value       = one(aws_dynamodb_table.state[*].name)
}

output "state_table_arn" {
  description = "ARN of the alert-state table, for the writers' policies; null when enabled is false."
  value       = one(aws_dynamodb_table.state[*].arn)
}

output "function_name" {
  description = "Name of fn-alerts, run every minute by its EventBridge schedule; null when enabled is false."
  value       = one(module.function[*].function_name)
}

output "function_arn" {
  description = "Unqualified ARN of fn-alerts (IAM grants on the function; the schedule invokes the live alias); null when enabled is false."
  value       = one(module.function[*].function_arn)
}

output "alias_name" {
  description = "fn-alerts's alias the schedule invokes (live), which CodeDeploy shifts; null when enabled is false."
  value       = one(module.function[*].alias_name)
}

output "rules_uri" {
  description = "Where the alert rules are, s3://<curated bucket>/_config/alerts.toml: ALERT_RULES_URI of fn-alerts, fn-ingest and fn-stream; null when enabled is false."
  value       = var.enabled ? "s3://${var.curated_bucket}/${aws_s3_object.rules[0].key}" : null
}

output "rules_object_arn" {
  description = "ARN of the alert rules object (<curated bucket ARN>/_config/alerts.toml), which the functions that evaluate rules may s3:GetObject; null when enabled is false."
  value       = var.enabled ? "${var.curated_bucket_arn}/${aws_s3_object.rules[0].key}" : null
}
