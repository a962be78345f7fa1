# loglake on AWS: one apply deploys the lake (storage, catalog), the ingest
# path (S3 -> SQS -> fn-ingest), the real-time path (Kinesis -> fn-stream ->
# Firehose -> raw bucket), optionally the HTTP event collector in front of
# it (and in more regions: regions.tf), optional search, alarms and,
# optionally, the pipeline that deploys all of it. Each module owns one
# concern.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id    = data.aws_caller_identity.current.account_id
  artifacts_dir = coalesce(var.artifacts_dir, "${path.module}/../target/lambda")
  glue_database = replace(var.name_prefix, "-", "_")

  # Settings every function that feeds the search index reads; set only when
  # the domain exists, so the functions skip the sink otherwise.
  search_environment = {
    SEARCH_ENDPOINT     = one(module.search[*].endpoint_url)
    SEARCH_AUTH         = "sigv4"
    SEARCH_SERVICE      = "es"
    SEARCH_INDEX_PREFIX = var.search_index_prefix
    SEARCH_MIN_LEVEL    = var.search_min_level
  }

  search_access = {
    enabled    = var.enable_search
    domain_arn = one(module.search[*].domain_arn)
  }

  # Content alerts (issue 6): settings fn-ingest and fn-stream read to
  # evaluate the rules (uploaded by modules/alerts to the curated bucket),
  # write window contributions and publish instant alerts; applied only
  # when enable_alerts.
  alerts_environment = {
    ALERT_RULES_URI     = module.alerts.rules_uri
    ALERT_WINDOWS_TABLE = module.alerts.windows_table_name
    ALERT_STATE_TABLE   = module.alerts.state_table_name
    ALERT_TOPIC_ARN     = module.alerts.topic_arn
    # Notifications carry an Athena query: point it at this deployment's database.
    ALERT_ATHENA_DATABASE = local.glue_database
  }

  alerts_access = {
    enabled           = var.enable_alerts
    windows_table_arn = module.alerts.windows_table_arn
    state_table_arn   = module.alerts.state_table_arn
    topic_arn         = module.alerts.topic_arn
    rules_object_arn  = module.alerts.rules_object_arn
  }

  # What CodeDeploy deploys (modules/codedeploy), by the same static keys:
  # every function but fn-canary, which CodeDeploy runs as fn-ingest's
  # pre-traffic hook instead.
  deployed_functions = merge(
    {
      ingest = { name = module.ingest.function_name, arn = module.ingest.function_arn, alias = module.ingest.alias_name }
      stream = { name = module.stream.function_name, arn = module.stream.function_arn, alias = module.stream.alias_name }
    },
    var.enable_alerts ? { alerts = { name = module.alerts.function_name, arn = module.alerts.function_arn, alias = module.alerts.alias_name } } : {},
    var.enable_collect ? { collect = { name = one(module.collect[*].function_name), arn = one(module.collect[*].function_arn), alias = one(module.collect[*].alias_name) } } : {},
  )

  # Function names by a static key (known at plan), for alarms and outputs.
  function_names = merge(
    { ingest = module.ingest.function_name, stream = module.stream.function_name },
    var.enable_alerts ? { alerts = module.alerts.function_name } : {},
    var.enable_collect ? { collect = one(module.collect[*].function_name) } : {},
  )

  vpc = {
    subnet_ids         = var.enable_search ? var.search_subnet_ids : []
    security_group_ids = compact([one(module.search[*].client_security_group_id)])
  }
}

module "kms" {
  source = "./modules/kms"

  name_prefix = var.name_prefix
  account_id  = local.account_id
  region      = var.region
  partition   = data.aws_partition.current.partition
}

# The pipeline's own key (its artifacts, CodeBuild projects and their logs),
# only with CI/CD: the builds never need a grant on the data key above.
module "pipeline_kms" {
  source = "./modules/kms"
  count  = var.enable_cicd ? 1 : 0

  name_prefix  = "${var.name_prefix}-pipeline"
  purpose      = "loglake pipeline artifacts, builds and their logs"
  alarm_topics = false
  account_id   = local.account_id
  region       = var.region
  partition    = data.aws_partition.current.partition
}

# The permission boundary every role of the deployment carries, with or
# without CI/CD: what any of them may ever do, and the Denies that keep a
# role-creating role (the pipeline's deploy stage) from escalating.
module "boundary" {
  source = "./modules/boundary"

  name_prefix   = var.name_prefix
  account_id    = local.account_id
  region        = var.region
  partition     = data.aws_partition.current.partition
  key_arns      = concat([module.kms.key_arn], module.pipeline_kms[*].key_arn, local.collect_stream_key_arns)
  extra_regions = var.collect_regions
  state_bucket  = var.enable_cicd ? var.cicd_state_bucket : ""
  state_key     = var.cicd_state_key
  # fn-ingest reads the buckets AWS services write their logs to: the
  # boundary allows that reading, and nothing else of those buckets.
  aws_log_sources = var.aws_log_sources
}

module "storage" {
  source = "./modules/storage"

  name_prefix                   = var.name_prefix
  account_id                    = local.account_id
  region                        = var.region
  encryption                    = var.s3_encryption
  kms_key_arn                   = module.kms.key_arn
  raw_retention_days            = var.raw_retention_days
  quarantine_retention_days     = var.quarantine_retention_days
  curated_noncurrent_days       = var.curated_noncurrent_days
  athena_results_retention_days = var.athena_results_retention_days
}

module "search" {
  source = "./modules/search"
  count  = var.enable_search ? 1 : 0

  name_prefix        = var.name_prefix
  account_id         = local.account_id
  region             = var.region
  partition          = data.aws_partition.current.partition
  kms_key_arn        = module.kms.key_arn
  engine_version     = var.search_engine_version
  instance_type      = var.search_instance_type
  instance_count     = var.search_instance_count
  volume_gb          = var.search_volume_gb
  subnet_ids         = var.search_subnet_ids
  allowed_cidrs      = var.search_allowed_cidrs
  master_user_arn    = var.search_master_user_arn
  log_retention_days = var.log_retention_days
}

module "ingest" {
  source = "./modules/ingest"

  name_prefix          = var.name_prefix
  artifacts_dir        = local.artifacts_dir
  architecture         = var.lambda_architecture
  memory_mb            = var.ingest_memory_mb
  timeout_s            = var.ingest_timeout_s
  batch_size           = var.ingest_batch_size
  max_concurrency      = var.ingest_max_concurrency
  reserved_concurrency = var.reserved_concurrency
  memory_budget_mb     = var.ingest_memory_budget_mb
  format_by_prefix     = var.format_by_prefix
  aws_log_sources      = var.aws_log_sources
  partition            = data.aws_partition.current.partition
  region               = var.region
  formats_path         = var.formats_path
  # fn-canary, the pre-traffic hook of fn-ingest's deployments, may read
  # and report on those deployments only.
  hook_deployment_group_arns = [module.codedeploy.deployment_group_arns["ingest"]]
  redact                     = var.redact
  raw_bucket                 = module.storage.raw_bucket
  raw_bucket_arn             = module.storage.raw_bucket_arn
  curated_bucket             = module.storage.curated_bucket
  curated_bucket_arn         = module.storage.curated_bucket_arn
  kms_key_arn                = module.kms.key_arn
  log_retention_days         = var.log_retention_days
  search                     = local.search_access
  search_environment         = local.search_environment
  alerts                     = local.alerts_access
  alerts_environment         = local.alerts_environment
  vpc                        = local.vpc
  permissions_boundary       = module.boundary.arn
}

module "stream" {
  source = "./modules/stream"

  name_prefix             = var.name_prefix
  account_id              = local.account_id
  region                  = var.region
  partition               = data.aws_partition.current.partition
  artifacts_dir           = local.artifacts_dir
  architecture            = var.lambda_architecture
  memory_mb               = var.stream_memory_mb
  timeout_s               = var.stream_timeout_s
  batch_size              = var.stream_batch_size
  batching_window_s       = var.stream_batching_window_s
  parallelization_factor  = var.stream_parallelization_factor
  max_retry_attempts      = var.stream_max_retry_attempts
  max_record_age_s        = var.stream_max_record_age_s
  reserved_concurrency    = var.reserved_concurrency
  redact                  = var.redact
  stream_mode             = var.kinesis_stream_mode
  shard_count             = var.kinesis_shard_count
  retention_hours         = var.kinesis_retention_hours
  firehose_buffer_size_mb = var.firehose_buffer_size_mb
  firehose_buffer_s       = var.firehose_buffer_interval_s
  raw_bucket_arn          = module.storage.raw_bucket_arn
  curated_bucket          = module.storage.curated_bucket
  curated_bucket_arn      = module.storage.curated_bucket_arn
  kms_key_arn             = module.kms.key_arn
  log_retention_days      = var.log_retention_days
  search                  = local.search_access
  search_environment      = local.search_environment
  alerts                  = local.alerts_access
  alerts_environment      = local.alerts_environment
  vpc                     = local.vpc
  permissions_boundary    = module.boundary.arn
}

# The HTTP event collector of the home region: events posted to the API go
# to the stream above, and from there the way every streamed record goes.
module "collect" {
  source = "./modules/collect"
  count  = var.enable_collect ? 1 : 0

  name_prefix          = var.name_prefix
  artifacts_dir        = local.artifacts_dir
  architecture         = var.lambda_architecture
  memory_mb            = var.collect_memory_mb
  timeout_s            = var.collect_timeout_s
  reserved_concurrency = var.reserved_concurrency
  redact               = var.redact
  kms_key_arn          = module.kms.key_arn
  log_retention_days   = var.log_retention_days
  permissions_boundary = module.boundary.arn
  stream_name          = module.stream.kinesis_stream_name
  stream_arn           = module.stream.kinesis_stream_arn
  stream_key_arn       = module.kms.key_arn
  event_service        = var.collect_event_service
  max_body_bytes       = var.collect_max_body_bytes
  allowed_origins      = var.collect_allowed_origins
  auth                 = var.collect_auth
  jwt_issuer           = var.collect_jwt_issuer
  jwt_audience         = var.collect_jwt_audience
  throttle_rate        = var.collect_throttle_rate
  throttle_burst       = var.collect_throttle_burst
  function_url         = var.collect_function_url
  domain_name          = var.collect_domain_name
  certificate_arn      = var.collect_certificate_arn
  alarm_topic_arn      = module.alerts.topic_arn
  error_rate_alarm_pct = var.collect_5xx_alarm_pct
}

module "catalog" {
  source = "./modules/catalog"

  name_prefix           = var.name_prefix
  database_name         = local.glue_database
  curated_bucket        = module.storage.curated_bucket
  athena_results_bucket = module.storage.athena_results_bucket
  kms_key_arn           = module.kms.key_arn
  bytes_scanned_cutoff  = var.athena_bytes_scanned_cutoff
  lake_start_date       = var.lake_start_date
}

module "search_setup" {
  source = "./modules/search-setup"
  count  = var.enable_search && var.search_apply_settings ? 1 : 0

  index_template_path = "${path.module}/../search/index-template.json"
  ism_policy_path     = "${path.module}/../search/ism-policy.json.tpl"
  index_prefix        = var.search_index_prefix
  delete_after_days   = var.search_retention_days
  # The collect regions' fn-stream index into the same domain.
  writer_role_arns = concat([module.ingest.function_role_arn, module.stream.function_role_arn], local.collect_region_stacks[*].stream_role_arn)

  depends_on = [module.search]
}

# The rules file is uploaded to the curated bucket (ALERT_RULES_URI of
# fn-alerts, fn-ingest and fn-stream); it is read only when alerts are on,
# so it may be absent otherwise.
module "alerts" {
  source = "./modules/alerts"

  name_prefix          = var.name_prefix
  kms_key_arn          = module.kms.key_arn
  alert_email          = var.alert_email
  enabled              = var.enable_alerts
  rules_path           = var.enable_alerts ? coalesce(var.alert_rules_path, "${path.module}/../alerts.toml") : null
  athena_database      = local.glue_database
  curated_bucket       = module.storage.curated_bucket
  curated_bucket_arn   = module.storage.curated_bucket_arn
  deletion_protection  = var.alert_tables_deletion_protection
  artifacts_dir        = local.artifacts_dir
  architecture         = var.lambda_architecture
  log_retention_days   = var.log_retention_days
  permissions_boundary = module.boundary.arn
}

module "observability" {
  source = "./modules/observability"

  name_prefix               = var.name_prefix
  region                    = var.region
  topic_arn                 = module.alerts.topic_arn
  functions                 = local.function_names
  scheduled_functions       = var.enable_alerts ? { alerts = module.alerts.function_name } : {}
  alert_tables              = var.enable_alerts ? { windows = module.alerts.windows_table_name, state = module.alerts.state_table_name } : {}
  dead_letter_queues        = { ingest = module.ingest.dlq_name, stream = module.stream.failure_queue_name }
  stream_function_name      = module.stream.function_name
  kinesis_stream_name       = module.stream.kinesis_stream_name
  firehose_name             = module.stream.firehose_name
  iterator_age_threshold_ms = var.kinesis_iterator_age_alarm_ms
  business_log_groups       = [module.ingest.log_group_name, module.stream.log_group_name]

  freshness_stream_threshold_ms = var.freshness_stream_p95_alarm_ms
  freshness_ingest_threshold_ms = var.freshness_ingest_p95_alarm_ms
  http_apis                     = var.enable_collect ? { collect = one(module.collect[*].api_id) } : {}
  quarantine_ratio_threshold    = var.ingest_quarantine_ratio_alarm
}

# Safe deploys: every function publishes versions and every trigger invokes
# its live alias; CodeDeploy shifts the alias to a new version as
# deployment_config says, fn-canary proving a new fn-ingest first, and rolls
# back when the deployment fails or one of the function's alarms fires.
# `make deploy` and the pipeline start the deployments after the apply
# (scripts/deploy-functions.py, from the deployments output).
module "codedeploy" {
  source = "./modules/codedeploy"

  name_prefix = var.name_prefix
  partition   = data.aws_partition.current.partition
  account_id  = local.account_id
  region      = var.region
  functions = {
    for k, f in local.deployed_functions : k => merge(f, {
      alarm_names = module.observability.rollback_alarm_names[k]
      alarm_arns  = module.observability.rollback_alarm_arns[k]
    })
  }
  hooks                = { ingest = { name = module.ingest.canary_function_name, arn = module.ingest.canary_function_arn } }
  deployment_config    = var.deployment_config
  permissions_boundary = module.boundary.arn
}

module "cicd" {
  source = "./modules/cicd"
  count  = var.enable_cicd ? 1 : 0

  name_prefix          = var.name_prefix
  account_id           = local.account_id
  region               = var.region
  partition            = data.aws_partition.current.partition
  pipeline_key_arn     = one(module.pipeline_kms[*].key_arn)
  data_key_arn         = module.kms.key_arn
  managed_resources    = module.boundary.managed_resources
  config_objects_arn   = "${module.storage.curated_bucket_arn}/_config/*"
  permissions_boundary = module.boundary.arn
  repository           = var.cicd_repository
  branch               = var.cicd_branch
  connection_arn       = var.cicd_connection_arn
  connection_provider  = var.cicd_connection_provider
  state_bucket         = var.cicd_state_bucket
  state_key            = var.cicd_state_key
  approval_topic_arn   = module.alerts.topic_arn
  log_retention_days   = var.log_retention_days

  # The release action: CodeDeploy deployments of these groups, for these
  # functions, with the predefined configuration deployment_config names.
  deploy_application_arn = module.codedeploy.application_arn
  deploy_group_arns      = values(module.codedeploy.deployment_group_arns)
  deploy_function_arns   = [for f in values(local.deployed_functions) : f.arn]
  deployment_config      = var.deployment_config
}
