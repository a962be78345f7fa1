output "raw_bucket" {
  description = "Name of the raw bucket (versioned): where log files are dropped and Firehose delivers."
  value       = module.raw.id
}

output "raw_bucket_arn" {
  description = "ARN of the raw bucket."
  value       = module.raw.arn
}

output "curated_bucket" {
  description = "Name of the curated bucket (versioned): the lake."
  value       = module.curated.id
}

output "curated_bucket_arn" {
  description = "ARN of the curated bucket."
  value       = module.curated.arn
}

output "athena_results_bucket" {
  description = "Name of the Athena query results bucket."
  value       = module.athena_results.id
}

output "access_logs_bucket" {
  description = "Name of the bucket receiving the other buckets' server access logs."
  value       = module.access_logs.id
}
