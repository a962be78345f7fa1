output "function_name" {
  description = "Name of fn-stream (<prefix>-fn-stream)."
  value       = module.function.function_name
}

output "function_arn" {
  description = "Unqualified ARN of fn-stream (IAM grants on the function; triggers invoke the live alias)."
  value       = module.function.function_arn
}

output "alias_name" {
  description = "fn-stream's alias every trigger invokes (live), which CodeDeploy shifts."
  value       = module.function.alias_name
}

output "function_role_arn" {
  description = "ARN of fn-stream's IAM role (a writer of the search domain when search is on)."
  value       = module.function.role_arn
}

output "log_group_name" {
  description = "fn-stream's CloudWatch log group (/aws/lambda/<prefix>-fn-stream)."
  value       = module.function.log_group_name
}

output "kinesis_stream_name" {
  description = "Name of the Kinesis stream producers write to (<prefix>-logs)."
  value       = aws_kinesis_stream.logs.name
}

output "kinesis_stream_arn" {
  description = "ARN of the Kinesis stream."
  value       = aws_kinesis_stream.logs.arn
}

output "firehose_name" {
  description = "Name of the Firehose delivery stream to the raw bucket (<prefix>-raw)."
  value       = aws_kinesis_firehose_delivery_stream.raw.name
}

output "failure_queue_url" {
  description = "URL of the on-failure queue: coordinates of Kinesis batches fn-stream gave up on, kept 14 days."
  value       = aws_sqs_queue.failures.id
}

output "failure_queue_name" {
  description = "Name of the on-failure queue (<prefix>-stream-failures), for its alarm."
  value       = aws_sqs_queue.failures.name
}
