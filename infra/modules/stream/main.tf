# The real-time path: producers -> Kinesis -> fn-stream, which normalizes
# every line and forwards NDJSON to Firehose; Firehose lands gzip batches in
# the raw bucket under firehose/, where the file path makes them Parquet.
# Batches that keep failing go to an SQS on-failure queue, never lost and
# never blocking the shard for long.
#
# The same module is the real-time path of a collect region
# (modules/collect-region): there the stream, Firehose and fn-stream are
# regional, their logs and buffers use the region's key (kms_key_arn), the
# stream AWS's key for Kinesis, and Firehose delivers to the home raw bucket
# with the lake's key (lake_kms_key_arn).

locals {
  stream_name   = "${var.name_prefix}-logs"
  firehose_name = "${var.name_prefix}-raw"
  # The lake's key (the raw and curated buckets, the alert tables and topic):
  # this region's key at home.
  lake_key = coalesce(var.lake_kms_key_arn, var.kms_key_arn)
}

resource "aws_kinesis_stream" "logs" {
  name             = local.stream_name
  shard_count      = var.stream_mode == "PROVISIONED" ? var.shard_count : null
  retention_period = var.retention_hours
  encryption_type  = "KMS"
  kms_key_id       = coalesce(var.stream_kms_key, var.kms_key_arn)

  stream_mode_details {
    stream_mode = var.stream_mode
  }
}

# --- Firehose to the raw bucket ----------------------------------------------

resource "aws_cloudwatch_log_group" "firehose" {
  #checkov:skip=CKV_AWS_338:retention is var.log_retention_days (default 30): operational logs of the pipeline, whose data is kept in the lake; raise it where policy asks for a year
  name              = "/aws/kinesisfirehose/${local.firehose_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_cloudwatch_log_stream" "firehose" {
  name           = "DestinationDelivery"
  log_group_name = aws_cloudwatch_log_group.firehose.name
}

data "aws_iam_policy_document" "firehose_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.account_id]
    }
  }
}

resource "aws_iam_role" "firehose" {
  name                 = "${var.name_prefix}-firehose"
  assume_role_policy   = data.aws_iam_policy_document.firehose_assume.json
  permissions_boundary = var.permissions_boundary
}

resource "aws_iam_role_policy" "firehose" {
  name = "deliver"
  role = aws_iam_role.firehose.id
  policy = templatefile("${path.module}/../../policies/firehose-delivery.json.tftpl", {
    raw_bucket_arn = var.raw_bucket_arn
    kms_key_arn    = local.lake_key
    log_group_arn  = aws_cloudwatch_log_group.firehose.arn
  })
}

resource "aws_kinesis_firehose_delivery_stream" "raw" {
  name        = local.firehose_name
  destination = "extended_s3"

  server_side_encryption {
    enabled  = true
    key_type = "CUSTOMER_MANAGED_CMK"
    key_arn  = var.kms_key_arn
  }

  extended_s3_configuration {
    role_arn   = aws_iam_role.firehose.arn
    bucket_arn = var.raw_bucket_arn
    # fn-stream already normalized the lines; the file path reads gzip
    # (multi-member too) and takes the service from each record.
    prefix              = "firehose/!{timestamp:yyyy/MM/dd/HH}/"
    error_output_prefix = "firehose-errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
    compression_format  = "GZIP"
    buffering_size      = var.firehose_buffer_size_mb
    buffering_interval  = var.firehose_buffer_s
    # S3 encrypts with a key of the bucket's region: the lake's.
    kms_key_arn = local.lake_key

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose.name
      log_stream_name = aws_cloudwatch_log_stream.firehose.name
    }
  }

  depends_on = [aws_iam_role_policy.firehose]
}

# --- fn-stream -------------------------------------------------------------

resource "aws_sqs_queue" "failures" {
  name                      = "${var.name_prefix}-stream-failures"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

module "function" {
  source = "../lambda"

  name_prefix          = var.name_prefix
  binary               = "fn-stream"
  description          = "loglake: Kinesis records normalized and forwarded to Firehose"
  artifacts_dir        = var.artifacts_dir
  architecture         = var.architecture
  memory_mb            = var.memory_mb
  timeout_s            = var.timeout_s
  reserved_concurrency = var.reserved_concurrency
  kms_key_arn          = var.kms_key_arn
  log_retention_days   = var.log_retention_days
  vpc                  = var.vpc
  permissions_boundary = var.permissions_boundary

  # The stream, Firehose, the lake's quarantine, the on-failure queue and the
  # key (which also encrypts the alert tables and topic); modules/lambda adds
  # the search and alert grants with their settings. See
  # infra/policies/README.md.
  policy_json = templatefile("${path.module}/../../policies/fn-stream.json.tftpl", {
    stream_arn         = aws_kinesis_stream.logs.arn
    firehose_arn       = aws_kinesis_firehose_delivery_stream.raw.arn
    curated_bucket_arn = var.curated_bucket_arn
    failure_queue_arn  = aws_sqs_queue.failures.arn
    kms_key_arn        = local.lake_key
  })

  environment = {
    DELIVERY_STREAM = aws_kinesis_firehose_delivery_stream.raw.name
    CURATED_BUCKET  = var.curated_bucket
    MAX_LINE_BYTES  = "1048576"
    REDACT          = var.redact
    # Only in a collect region: the curated bucket, the alert tables and
    # topic and the search domain are in the home region, named here (null
    # at home: left out).
    LAKE_REGION = var.lake_region
  }

  search_enabled    = var.search.enabled
  search_domain_arn = var.search.domain_arn
  search_environment = {
    SEARCH_ENDPOINT     = var.search_environment["SEARCH_ENDPOINT"]
    SEARCH_AUTH         = var.search_environment["SEARCH_AUTH"]
    SEARCH_SERVICE      = var.search_environment["SEARCH_SERVICE"]
    SEARCH_INDEX_PREFIX = var.search_environment["SEARCH_INDEX_PREFIX"]
    SEARCH_MIN_LEVEL    = var.search_environment["SEARCH_MIN_LEVEL"]
  }

  alerts_enabled = var.alerts.enabled
  alerts_arns    = var.alerts
  alerts_environment = {
    ALERT_RULES_URI       = var.alerts_environment["ALERT_RULES_URI"]
    ALERT_WINDOWS_TABLE   = var.alerts_environment["ALERT_WINDOWS_TABLE"]
    ALERT_STATE_TABLE     = var.alerts_environment["ALERT_STATE_TABLE"]
    ALERT_TOPIC_ARN       = var.alerts_environment["ALERT_TOPIC_ARN"]
    ALERT_ATHENA_DATABASE = var.alerts_environment["ALERT_ATHENA_DATABASE"]
  }
}

# The live alias, never the function: a new version reads the stream only
# once CodeDeploy shifts the alias to it.
resource "aws_lambda_event_source_mapping" "stream" {
  event_source_arn = aws_kinesis_stream.logs.arn
  function_name    = module.function.alias_arn
  # From the oldest record still in the stream: records put before the
  # mapping was created or replaced are read, not skipped.
  starting_position                  = "TRIM_HORIZON"
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batching_window_s
  parallelization_factor             = var.parallelization_factor

  # The function names the first record it could not forward; Lambda retries
  # from there, halves a batch that keeps failing, and gives up on a record
  # after a bounded number of attempts or age, sending its coordinates to SQS.
  function_response_types        = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = var.max_retry_attempts
  maximum_record_age_in_seconds  = var.max_record_age_s

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.failures.arn
    }
  }
}
