output "raw_bucket" {
  description = "Drop log files here; fn-ingest turns them into Parquet in the curated bucket."
  value       = module.loglake.raw_bucket
}

output "kinesis_stream_name" {
  description = "Producers (and `loglake replay --stream`) write records here."
  value       = module.loglake.kinesis_stream_name
}

output "athena_workgroup" {
  description = "Athena workgroup to query the lake in (database: glue_database)."
  value       = module.loglake.athena_workgroup
}

output "glue_database" {
  description = "Glue database of the lake's tables and views."
  value       = module.loglake.glue_database
}

output "dashboard_url" {
  description = "Console URL of the pipeline's CloudWatch dashboard."
  value       = module.loglake.dashboard_url
}

output "deployments" {
  description = "What scripts/deploy-functions.py shifts to the latest versions through CodeDeploy after each apply (--infra this directory)."
  value       = module.loglake.deployments
}
