output "function_name" {
  description = "Name of fn-ingest (<prefix>-fn-ingest)."
  value       = module.function.function_name
}

output "function_arn" {
  description = "Unqualified ARN of fn-ingest (IAM grants on the function and its versions; triggers invoke the live alias)."
  value       = module.function.function_arn
}

output "alias_name" {
  description = "fn-ingest's alias every trigger invokes (live), which CodeDeploy shifts."
  value       = module.function.alias_name
}

output "canary_function_name" {
  description = "Name of fn-canary (<prefix>-fn-canary), the pre-traffic hook of fn-ingest's deployments."
  value       = module.canary.function_name
}

output "canary_function_arn" {
  description = "Unqualified ARN of fn-canary: CodeDeploy invokes it by name (the AppSpec's BeforeAllowTraffic hook), so its role may invoke this ARN."
  value       = module.canary.function_arn
}

output "canary_prefix" {
  description = "Key prefix of the canary objects in the raw bucket and of what fn-ingest makes of them in the curated bucket (_canary/)."
  value       = local.canary_prefix
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
