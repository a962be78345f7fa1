output "region" {
  value = var.region
}

output "api_url" {
  description = "Where events are posted in this region: the execute-api endpoint + /v1/events."
  value       = module.collect.api_url
}

output "function_url" {
  value = module.collect.function_url
}

output "collect_function_name" {
  value = module.collect.function_name
}

output "stream_function_name" {
  value = module.stream.function_name
}

output "stream_role_arn" {
  description = "fn-stream's role: a writer of the search domain, like the home functions'."
  value       = module.stream.function_role_arn
}

output "kinesis_stream_name" {
  value = module.stream.kinesis_stream_name
}

output "firehose_name" {
  value = module.stream.firehose_name
}

output "stream_key_arn" {
  description = "The AWS managed key of the region's stream (alias/aws/kinesis): fn-collect's StreamKey grant, and the boundary's."
  value       = data.aws_kms_key.kinesis.arn
}

output "kms_key_arn" {
  description = "The region's own key."
  value       = module.kms.key_arn
}

output "alarm_topic_arn" {
  value = module.alerts.topic_arn
}
