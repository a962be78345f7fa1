output "function_name" {
  description = "Name of fn-ingest (<prefix>-fn-ingest)."
  value       = module.function.function_name
}

output "function_role_arn" {
  description = "ARN of fn-ingest's IAM role (a writer of the search domain when search is on)."
  value       = module.function.role_arn
}

output "log_group_name" {
  description = "fn-ingest's CloudWatch log group (/aws/lambda/<prefix>-fn-ingest)."
  value       = module.function.log_group_name
}

output "queue_url" {
  description = "URL of the ingest queue the raw bucket notifies (INGEST_QUEUE_URL: long objects continue in a new message)."
  value       = aws_sqs_queue.ingest.id
}

output "queue_arn" {
  description = "ARN of the ingest queue: where the ObjectCreated notifications of an AWS log source with notify = false are to be sent."
  value       = aws_sqs_queue.ingest.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue: messages fn-ingest failed on 5 times, kept 14 days; redrive them to the ingest queue."
  value       = aws_sqs_queue.dlq.id
}

output "dlq_name" {
  description = "Name of the dead-letter queue (<prefix>-ingest-dlq), for its alarm."
  value       = aws_sqs_queue.dlq.name
}
