output "raw_bucket" {
  description = "Drop log files here (any prefix; the first path segment names the service of records that have none)."
  value       = module.storage.raw_bucket
}

output "curated_bucket" {
  description = "The lake: logs/ (Parquet), quarantine/, summary/ (per-minute summary), _manifests/, search-dlq/."
  value       = module.storage.curated_bucket
}

output "athena_results_bucket" {
  description = "Bucket Athena writes the workgroup's query results to (under results/), expiring after athena_results_retention_days."
  value       = module.storage.athena_results_bucket
}

output "ingest_queue_url" {
  description = "URL of the queue the raw bucket notifies and fn-ingest reads; the DLQ's redrive target."
  value       = module.ingest.queue_url
}

output "ingest_queue_arn" {
  description = "ARN of the ingest queue: send the ObjectCreated events of an aws_log_sources bucket with notify = false here (its queue policy accepts every listed bucket)."
  value       = module.ingest.queue_arn
}

output "ingest_dlq_url" {
  description = "Messages fn-ingest failed on 5 times; inspect, then redrive to the ingest queue."
  value       = module.ingest.dlq_url
}

output "stream_failure_queue_url" {
  description = "Coordinates of Kinesis batches fn-stream gave up on."
  value       = module.stream.failure_queue_url
}

output "kinesis_stream_name" {
  description = "Producers (and `loglake replay --stream`) write here."
  value       = module.stream.kinesis_stream_name
}

output "firehose_name" {
  description = "Firehose delivery stream to the raw bucket (firehose/ prefix); `loglake replay FILE --firehose NAME` writes here."
  value       = module.stream.firehose_name
}

output "collect_api_url" {
  description = "POST events here (the home region's collector, + /v1/events; null when enable_collect is false). GET /healthz beside it."
  value       = one(module.collect[*].api_url)
}

output "collect_function_name" {
  description = "fn-collect of the home region (null when enable_collect is false)."
  value       = one(module.collect[*].function_name)
}

output "collect_function_url" {
  description = "fn-collect's function URL, AWS_IAM (null unless enable_collect and collect_function_url)."
  value       = one(module.collect[*].function_url)
}

output "collect_api_urls" {
  description = "The collector's URL (+ /v1/events) by region: the home region's when enable_collect, and every collect region's."
  value = merge(
    var.enable_collect ? { (var.region) = one(module.collect[*].api_url) } : {},
    { for s in local.collect_region_stacks : s.region => s.api_url },
  )
}

output "function_names" {
  description = "Name of every function of the home region, by key: ingest, stream, and alerts and collect when enabled."
  value       = local.function_names
}

output "canary_function_name" {
  description = "fn-canary: CodeDeploy's pre-traffic hook of fn-ingest's deployments (a canary object through the new version), invoked by nothing else."
  value       = module.ingest.canary_function_name
}

output "deployments" {
  description = "One entry per deployed function, in every region: region, CodeDeploy application and deployment group, function, alias and pre-traffic hook; scripts/deploy-functions.py shifts each alias behind its latest version through these (make deploy, the pipeline's Release action)."
  value       = concat(module.codedeploy.deployments, flatten([for s in local.collect_region_stacks : s.deployments]))
}

output "codedeploy_application" {
  description = "The home region's CodeDeploy application (<prefix>-functions): its deployments are in the CodeDeploy console, and stop-deployment rolls one back."
  value       = module.codedeploy.application_name
}

output "alerts_topic_arn" {
  description = "ARN of the SNS topic alarms, content alerts and the pipeline's approvals go to; subscribe more endpoints here."
  value       = module.alerts.topic_arn
}

output "alerts_function_name" {
  description = "fn-alerts, run every minute (null when enable_alerts is false)."
  value       = module.alerts.function_name
}

output "alert_windows_table" {
  description = "Per-minute window contributions (pk minute, sk source identity hash), expiring by TTL on `expires`."
  value       = module.alerts.windows_table_name
}

output "alert_state_table" {
  description = "Alert state per rule and group, and instant-alert dedup markers."
  value       = module.alerts.state_table_name
}

output "glue_database" {
  description = "Glue database of the lake's tables and views, for Athena: name_prefix with dashes as underscores."
  value       = module.catalog.database_name
}

output "athena_workgroup" {
  description = "Athena workgroup to query the lake in: encrypted results and the per-query scan limit."
  value       = module.catalog.workgroup
}

output "athena_named_queries" {
  description = "IDs of the saved Athena queries of the workgroup, by name."
  value       = module.catalog.named_queries
}

output "opensearch_endpoint" {
  description = "https URL of the search domain (null when enable_search is false)."
  value       = one(module.search[*].endpoint_url)
}

output "opensearch_dashboards_url" {
  description = "https URL of the search domain's OpenSearch Dashboards (null when enable_search is false)."
  value       = one(module.search[*].dashboards_url)
}

output "dashboard_url" {
  description = "Console URL of the pipeline's CloudWatch dashboard (<prefix>-pipeline)."
  value       = "https://${var.region}.console.aws.amazon.com/cloudwatch/home?region=${var.region}#dashboards:name=${module.observability.dashboard_name}"
}

output "business_dashboard_url" {
  description = "Records, errors, error rate and p95 latency per service (the functions' per-service EMF metrics)."
  value       = "https://${var.region}.console.aws.amazon.com/cloudwatch/home?region=${var.region}#dashboards:name=${module.observability.business_dashboard_name}"
}

output "summary_table" {
  description = "The per-minute summary (Glue table, one row per minute and service) and its Athena views."
  value       = { table = module.catalog.summary_table, views = module.catalog.summary_views }
}

output "kms_key_arn" {
  description = "ARN of the deployment's data key (buckets with SSE-KMS, topic, tables, logs, stream, search)."
  value       = module.kms.key_arn
}

output "pipeline_kms_key_arn" {
  description = "The pipeline's own key (null when enable_cicd is false)."
  value       = one(module.pipeline_kms[*].key_arn)
}

output "permissions_boundary_arn" {
  description = "The permission boundary every role of the deployment carries; only an administrator can change it."
  value       = module.boundary.arn
}

output "pipeline_name" {
  description = "Name of the CodePipeline (null when enable_cicd is false)."
  value       = one(module.cicd[*].pipeline_name)
}

output "pipeline_connection_arn" {
  description = "Complete the handshake of a connection created here once, in the console."
  value       = one(module.cicd[*].connection_arn)
}
