# More than one region: the collector and the real-time path in up to three
# regions besides var.region (var.collect_regions), each feeding the one lake
# of the home region (modules/collect-region; infra/README.md, "More than
# one region"). Terraform cannot create a provider per list element (no
# for_each on providers), so there is a fixed set of aliases, aws.collect_1
# to aws.collect_3, and one module call per alias, created when the list is
# long enough. An alias the list does not reach points at var.region and no
# resource uses it.

locals {
  # What every collect region's stack gets: the lake's resources and the
  # settings the home stack uses.
  collect_region_stream = {
    batch_size                = var.stream_batch_size
    batching_window_s         = var.stream_batching_window_s
    parallelization_factor    = var.stream_parallelization_factor
    stream_mode               = var.kinesis_stream_mode
    shard_count               = var.kinesis_shard_count
    retention_hours           = var.kinesis_retention_hours
    firehose_buffer_size_mb   = var.firehose_buffer_size_mb
    firehose_buffer_s         = var.firehose_buffer_interval_s
    iterator_age_threshold_ms = var.kinesis_iterator_age_alarm_ms
    freshness_threshold_ms    = var.freshness_stream_p95_alarm_ms
  }

  collect_region_collect = {
    event_service        = var.collect_event_service
    max_body_bytes       = var.collect_max_body_bytes
    allowed_origins      = var.collect_allowed_origins
    auth                 = var.collect_auth
    jwt_issuer           = var.collect_jwt_issuer
    jwt_audience         = var.collect_jwt_audience
    throttle_rate        = var.collect_throttle_rate
    throttle_burst       = var.collect_throttle_burst
    function_url         = var.collect_function_url
    error_rate_alarm_pct = var.collect_5xx_alarm_pct
  }

  collect_region_stacks = concat(module.collect_region_1, module.collect_region_2, module.collect_region_3)

  # The keys of the collect regions' streams, which fn-collect names there:
  # the boundary lists every key a role may use. Each instance's output by
  # name: a whole module (collect_region_stacks, or a splat over it) as a
  # value depends on every output, the roles made with this boundary among
  # them, which is a cycle Terraform refuses.
  collect_stream_key_arns = concat(
    length(var.collect_regions) > 0 ? [module.collect_region_1[0].stream_key_arn] : [],
    length(var.collect_regions) > 1 ? [module.collect_region_2[0].stream_key_arn] : [],
    length(var.collect_regions) > 2 ? [module.collect_region_3[0].stream_key_arn] : [],
  )
}

provider "aws" {
  alias  = "collect_1"
  region = try(var.collect_regions[0], var.region)

  default_tags {
    tags = merge({ project = "loglake", deployment = var.name_prefix }, var.tags)
  }
}

provider "aws" {
  alias  = "collect_2"
  region = try(var.collect_regions[1], var.region)

  default_tags {
    tags = merge({ project = "loglake", deployment = var.name_prefix }, var.tags)
  }
}

provider "aws" {
  alias  = "collect_3"
  region = try(var.collect_regions[2], var.region)

  default_tags {
    tags = merge({ project = "loglake", deployment = var.name_prefix }, var.tags)
  }
}

module "collect_region_1" {
  source    = "./modules/collect-region"
  count     = length(var.collect_regions) > 0 ? 1 : 0
  providers = { aws = aws.collect_1 }

  name_prefix               = var.name_prefix
  region                    = try(var.collect_regions[0], var.region)
  lake_region               = var.region
  account_id                = local.account_id
  partition                 = data.aws_partition.current.partition
  artifacts_dir             = local.artifacts_dir
  architecture              = var.lambda_architecture
  reserved_concurrency      = var.reserved_concurrency
  redact                    = var.redact
  log_retention_days        = var.log_retention_days
  permissions_boundary      = module.boundary.arn
  alert_email               = var.alert_email
  raw_bucket_arn            = module.storage.raw_bucket_arn
  curated_bucket            = module.storage.curated_bucket
  curated_bucket_arn        = module.storage.curated_bucket_arn
  lake_kms_key_arn          = module.kms.key_arn
  athena_database           = local.glue_database
  search                    = local.search_access
  search_environment        = local.search_environment
  alerts                    = local.alerts_access
  alerts_environment        = local.alerts_environment
  stream_memory_mb          = var.stream_memory_mb
  stream_timeout_s          = var.stream_timeout_s
  stream_max_retry_attempts = var.stream_max_retry_attempts
  stream_max_record_age_s   = var.stream_max_record_age_s
  stream                    = local.collect_region_stream
  collect_memory_mb         = var.collect_memory_mb
  collect_timeout_s         = var.collect_timeout_s
  collect                   = local.collect_region_collect
  deployment_config         = var.deployment_config
}

module "collect_region_2" {
  source    = "./modules/collect-region"
  count     = length(var.collect_regions) > 1 ? 1 : 0
  providers = { aws = aws.collect_2 }

  name_prefix               = var.name_prefix
  region                    = try(var.collect_regions[1], var.region)
  lake_region               = var.region
  account_id                = local.account_id
  partition                 = data.aws_partition.current.partition
  artifacts_dir             = local.artifacts_dir
  architecture              = var.lambda_architecture
  reserved_concurrency      = var.reserved_concurrency
  redact                    = var.redact
  log_retention_days        = var.log_retention_days
  permissions_boundary      = module.boundary.arn
  alert_email               = var.alert_email
  raw_bucket_arn            = module.storage.raw_bucket_arn
  curated_bucket            = module.storage.curated_bucket
  curated_bucket_arn        = module.storage.curated_bucket_arn
  lake_kms_key_arn          = module.kms.key_arn
  athena_database           = local.glue_database
  search                    = local.search_access
  search_environment        = local.search_environment
  alerts                    = local.alerts_access
  alerts_environment        = local.alerts_environment
  stream_memory_mb          = var.stream_memory_mb
  stream_timeout_s          = var.stream_timeout_s
  stream_max_retry_attempts = var.stream_max_retry_attempts
  stream_max_record_age_s   = var.stream_max_record_age_s
  stream                    = local.collect_region_stream
  collect_memory_mb         = var.collect_memory_mb
  collect_timeout_s         = var.collect_timeout_s
  collect                   = local.collect_region_collect
  deployment_config         = var.deployment_config
}

module "collect_region_3" {
  source    = "./modules/collect-region"
  count     = length(var.collect_regions) > 2 ? 1 : 0
  providers = { aws = aws.collect_3 }

  name_prefix               = var.name_prefix
  region                    = try(var.collect_regions[2], var.region)
  lake_region               = var.region
  account_id                = local.account_id
  partition                 = data.aws_partition.current.partition
  artifacts_dir             = local.artifacts_dir
  architecture              = var.lambda_architecture
  reserved_concurrency      = var.reserved_concurrency
  redact                    = var.redact
  log_retention_days        = var.log_retention_days
  permissions_boundary      = module.boundary.arn
  alert_email               = var.alert_email
  raw_bucket_arn            = module.storage.raw_bucket_arn
  curated_bucket            = module.storage.curated_bucket
  curated_bucket_arn        = module.storage.curated_bucket_arn
  lake_kms_key_arn          = module.kms.key_arn
  athena_database           = local.glue_database
  search                    = local.search_access
  search_environment        = local.search_environment
  alerts                    = local.alerts_access
  alerts_environment        = local.alerts_environment
  stream_memory_mb          = var.stream_memory_mb
  stream_timeout_s          = var.stream_timeout_s
  stream_max_retry_attempts = var.stream_max_retry_attempts
  stream_max_record_age_s   = var.stream_max_record_age_s
  stream                    = local.collect_region_stream
  collect_memory_mb         = var.collect_memory_mb
  collect_timeout_s         = var.collect_timeout_s
  collect                   = local.collect_region_collect
  deployment_config         = var.deployment_config
}
