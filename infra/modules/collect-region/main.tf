# One collect region: the collector (modules/collect) and the real-time path
# (modules/stream) in a region other than the lake's, feeding the one lake.
# Events posted here are put to this region's Kinesis stream; fn-stream
# forwards them to this region's Firehose, which delivers to the home raw
# bucket under the same firehose/ prefix as the home Firehose (cross-region
# delivery to S3; infra/README.md, "More than one region"), where fn-ingest
# makes them Parquet. fn-stream reaches the curated bucket, the alert tables
# and topic and the search domain in the home region (LAKE_REGION).
#
# Names carry the region (<prefix>-<region>-...): IAM roles and dashboards
# are global, and the permission boundary's patterns (<prefix>-*) still
# cover them. The region has its own key (logs, function environments,
# Firehose's buffer, the alarm topic), its alarms and dashboards, and an
# alarm topic of its own: CloudWatch alarms publish to a topic in their
# region only, and its own CodeDeploy application (CodeDeploy is regional),
# which shifts the region's live aliases as at home, rolled back by the
# region's alarms.

locals {
  prefix = "${var.name_prefix}-${var.region}"
}

module "kms" {
  source = "../kms"

  name_prefix = local.prefix
  purpose     = "loglake collect region ${var.region}: logs, function environments, Firehose buffer, alarm topic"
  account_id  = var.account_id
  region      = var.region
  partition   = var.partition
}

# The stream is encrypted with AWS's key for Kinesis (alias/aws/kinesis):
# producers and consumers need no grant on it (Kinesis Data Streams
# developer guide, "Permissions to use user-generated KMS keys"), so
# fn-stream's policy keeps naming one key, the lake's, for the buckets,
# tables and topic it writes to in the home region. DescribeKey on the alias
# creates the AWS managed key if the region has none yet.
data "aws_kms_key" "kinesis" {
  key_id = "alias/aws/kinesis"
}

# The region's alarm topic (and its e-mail subscription): modules/alerts
# with the content alerts off is exactly that.
module "alerts" {
  source = "../alerts"

  name_prefix          = local.prefix
  kms_key_arn          = module.kms.key_arn
  alert_email          = var.alert_email
  enabled              = false
  athena_database      = var.athena_database
  curated_bucket       = var.curated_bucket
  curated_bucket_arn   = var.curated_bucket_arn
  artifacts_dir        = var.artifacts_dir
  architecture         = var.architecture
  log_retention_days   = var.log_retention_days
  permissions_boundary = var.permissions_boundary
}

module "stream" {
  source = "../stream"

  name_prefix             = local.prefix
  account_id              = var.account_id
  region                  = var.region
  partition               = var.partition
  artifacts_dir           = var.artifacts_dir
  architecture            = var.architecture
  memory_mb               = var.stream_memory_mb
  timeout_s               = var.stream_timeout_s
  batch_size              = var.stream.batch_size
  batching_window_s       = var.stream.batching_window_s
  parallelization_factor  = var.stream.parallelization_factor
  max_retry_attempts      = var.stream_max_retry_attempts
  max_record_age_s        = var.stream_max_record_age_s
  reserved_concurrency    = var.reserved_concurrency
  redact                  = var.redact
  stream_mode             = var.stream.stream_mode
  shard_count             = var.stream.shard_count
  retention_hours         = var.stream.retention_hours
  firehose_buffer_size_mb = var.stream.firehose_buffer_size_mb
  firehose_buffer_s       = var.stream.firehose_buffer_s
  raw_bucket_arn          = var.raw_bucket_arn
  curated_bucket          = var.curated_bucket
  curated_bucket_arn      = var.curated_bucket_arn
  kms_key_arn             = module.kms.key_arn
  lake_kms_key_arn        = var.lake_kms_key_arn
  stream_kms_key          = "alias/aws/kinesis"
  lake_region             = var.lake_region
  log_retention_days      = var.log_retention_days
  search                  = var.search
  search_environment      = var.search_environment
  alerts                  = var.alerts
  alerts_environment      = var.alerts_environment
  vpc                     = { subnet_ids = [], security_group_ids = [] }
  permissions_boundary    = var.permissions_boundary
}

module "collect" {
  source = "../collect"

  name_prefix          = local.prefix
  artifacts_dir        = var.artifacts_dir
  architecture         = var.architecture
  memory_mb            = var.collect_memory_mb
  timeout_s            = var.collect_timeout_s
  reserved_concurrency = var.reserved_concurrency
  redact               = var.redact
  kms_key_arn          = module.kms.key_arn
  log_retention_days   = var.log_retention_days
  permissions_boundary = var.permissions_boundary
  stream_name          = module.stream.kinesis_stream_name
  stream_arn           = module.stream.kinesis_stream_arn
  stream_key_arn       = data.aws_kms_key.kinesis.arn
  event_service        = var.collect.event_service
  max_body_bytes       = var.collect.max_body_bytes
  allowed_origins      = var.collect.allowed_origins
  auth                 = var.collect.auth
  jwt_issuer           = var.collect.jwt_issuer
  jwt_audience         = var.collect.jwt_audience
  throttle_rate        = var.collect.throttle_rate
  throttle_burst       = var.collect.throttle_burst
  function_url         = var.collect.function_url
  alarm_topic_arn      = module.alerts.topic_arn
  error_rate_alarm_pct = var.collect.error_rate_alarm_pct
}

# The same alarms and dashboards as at home, for this region's functions,
# queue, stream and Firehose (its delivery to the home bucket above all).
module "observability" {
  source = "../observability"

  name_prefix               = local.prefix
  region                    = var.region
  topic_arn                 = module.alerts.topic_arn
  functions                 = { stream = module.stream.function_name, collect = module.collect.function_name }
  dead_letter_queues        = { stream = module.stream.failure_queue_name }
  stream_function_name      = module.stream.function_name
  kinesis_stream_name       = module.stream.kinesis_stream_name
  firehose_name             = module.stream.firehose_name
  iterator_age_threshold_ms = var.stream.iterator_age_threshold_ms
  business_log_groups       = [module.stream.log_group_name]

  freshness_stream_threshold_ms = var.stream.freshness_threshold_ms
  freshness_ingest_threshold_ms = var.stream.freshness_threshold_ms
  http_apis                     = { collect = module.collect.api_id }
}

# fn-stream and fn-collect publish versions and are invoked through their
# live aliases as at home; this region's CodeDeploy application shifts the
# aliases (scripts/deploy-functions.py, from the root's deployments output),
# rolled back by this region's alarms. No pre-traffic hook here: fn-canary
# proves fn-ingest, which runs at home only.
module "codedeploy" {
  source = "../codedeploy"

  name_prefix = local.prefix
  partition   = var.partition
  account_id  = var.account_id
  region      = var.region
  functions = {
    stream = {
      name        = module.stream.function_name
      arn         = module.stream.function_arn
      alias       = module.stream.alias_name
      alarm_names = module.observability.rollback_alarm_names["stream"]
      alarm_arns  = module.observability.rollback_alarm_arns["stream"]
    }
    collect = {
      name        = module.collect.function_name
      arn         = module.collect.function_arn
      alias       = module.collect.alias_name
      alarm_names = module.observability.rollback_alarm_names["collect"]
      alarm_arns  = module.observability.rollback_alarm_arns["collect"]
    }
  }
  deployment_config    = var.deployment_config
  permissions_boundary = var.permissions_boundary
}
