output "raw_bucket" {
  value = module.raw.id
}

output "raw_bucket_arn" {
  value = module.raw.arn
}

output "curated_bucket" {
  value = module.curated.id
}

output "curated_bucket_arn" {
  value = module.curated.arn
}

output "athena_results_bucket" {
  value = module.athena_results.id
}

output "access_logs_bucket" {
  value = module.access_logs.id
}
