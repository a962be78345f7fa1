output "region" {
  description = "This collect region's name (e.g. eu-central-1), the key of the root's collect_api_urls."
  value       = var.region
}

output "api_url" {
  description = "Where events are posted in this region: the execute-api endpoint + /v1/events."
  value       = module.collect.api_url
}

output "function_url" {
  description = "fn-collect's function URL in this region (AWS_IAM); null unless collect.function_url."
  value       = module.collect.function_url
}

output "collect_function_name" {
  description = "Name of this region's fn-collect (<prefix>-<region>-fn-collect)."
  value       = module.collect.function_name
}

output "stream_function_name" {
  description = "Name of this region's fn-stream (<prefix>-<region>-fn-stream)."
  value       = module.stream.function_name
}

output "stream_role_arn" {
  description = "fn-stream's role: a writer of the search domain, like the home functions'."
  value       = module.stream.function_role_arn
}

output "kinesis_stream_name" {
  description = "Name of this region's Kinesis stream, which fn-collect puts events to."
  value       = module.stream.kinesis_stream_name
}

output "firehose_name" {
  description = "Name of this region's Firehose delivery stream, which delivers to the home raw bucket."
  value       = module.stream.firehose_name
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
  description = "ARN of this region's alarm topic (CloudWatch alarms publish to a topic in their own region only)."
  value       = module.alerts.topic_arn
}

output "deployments" {
  description = "This region's entries of the root's deployments output: its fn-stream and fn-collect, their CodeDeploy application and groups (scripts/deploy-functions.py)."
  value       = module.codedeploy.deployments
}
