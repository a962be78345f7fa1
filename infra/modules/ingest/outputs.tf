output "function_name" {
  value = module.function.function_name
}

output "function_role_arn" {
  value = module.function.role_arn
}

output "log_group_name" {
  value = module.function.log_group_name
}

output "queue_url" {
  value = aws_sqs_queue.ingest.id
}

output "queue_arn" {
  value = aws_sqs_queue.ingest.arn
}

output "dlq_url" {
  value = aws_sqs_queue.dlq.id
}

output "dlq_name" {
  value = aws_sqs_queue.dlq.name
}
