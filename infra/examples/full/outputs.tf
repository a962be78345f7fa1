output "raw_bucket" {
  description = "Drop log files here; fn-ingest turns them into Parquet in the curated bucket."
  value       = module.loglake.raw_bucket
}

output "collect_api_urls" {
  description = "The collector's URL (+ /v1/events) by region: eu-west-1 and us-east-1."
  value       = module.loglake.collect_api_urls
}

output "opensearch_dashboards_url" {
  description = "OpenSearch Dashboards of the search domain (sign in as the master user)."
  value       = module.loglake.opensearch_dashboards_url
}

output "alerts_topic_arn" {
  description = "SNS topic of the alarms and content alerts; subscribe more endpoints here."
  value       = module.loglake.alerts_topic_arn
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

output "business_dashboard_url" {
  description = "Console URL of the business dashboard: records, errors and latency per service."
  value       = module.loglake.business_dashboard_url
}

output "ingest_queue_arn" {
  description = "The ingest queue: where the flow log bucket (notify = false) is to send its ObjectCreated events."
  value       = module.loglake.ingest_queue_arn
}

output "deployments" {
  description = "What scripts/deploy-functions.py shifts to the latest versions through CodeDeploy after each apply (--infra this directory)."
  value       = module.loglake.deployments
}
