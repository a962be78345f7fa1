output "function_name" {
  value = module.function.function_name
}

output "function_role_arn" {
  value = module.function.role_arn
}

output "log_group_name" {
  value = module.function.log_group_name
}

output "kinesis_stream_name" {
  value = aws_kinesis_stream.logs.name
}

output "kinesis_stream_arn" {
  value = aws_kinesis_stream.logs.arn
}

output "firehose_name" {
  value = aws_kinesis_firehose_delivery_stream.raw.name
}

output "failure_queue_url" {
  value = aws_sqs_queue.failures.id
}

output "failure_queue_name" {
  value = aws_sqs_queue.failures.name
}
