# The file path: raw bucket ObjectCreated -> SQS (with a dead-letter queue)
# -> fn-ingest, which streams each object into the curated lake. The queue
# decouples S3 from Lambda: bursts wait, failures are retried per message
# and a poison object ends in the DLQ instead of blocking the others.

locals {
  queue = "${var.name_prefix}-ingest"
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${local.queue}-dlq"
  message_retention_seconds = 1209600 # 14 days to look at and redrive
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "ingest" {
  name = local.queue
  # Lambda's guidance: at least six times the function timeout, so a message
  # is not redelivered while a retried invocation still holds it.
  visibility_timeout_seconds = 6 * var.timeout_s
  message_retention_seconds  = 345600
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.ingest.arn]
  })
}

data "aws_iam_policy_document" "queue" {
  statement {
    sid       = "RawBucketNotifies"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.ingest.arn]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [var.raw_bucket_arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.ingest.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "ingest" {
  queue_url = aws_sqs_queue.ingest.id
  policy    = data.aws_iam_policy_document.queue.json
}

resource "aws_s3_bucket_notification" "raw" {
  bucket = var.raw_bucket

  queue {
    queue_arn = aws_sqs_queue.ingest.arn
    events    = ["s3:ObjectCreated:*"]
  }

  depends_on = [aws_sqs_queue_policy.ingest]
}

# User-defined formats travel as an object beside the alert rules, read
# through FORMATS_URI and read again when changed (FORMATS_REFRESH_S);
# source_hash uploads an edited file again (an SSE-KMS ETag is no MD5).
resource "aws_s3_object" "formats" {
  count = var.formats_path == null ? 0 : 1

  bucket       = var.curated_bucket
  key          = "_config/formats.toml"
  source       = var.formats_path
  source_hash  = filemd5(var.formats_path)
  content_type = "application/toml"
  kms_key_id   = var.kms_key_arn
}

module "function" {
  source = "../lambda"

  name_prefix          = var.name_prefix
  binary               = "fn-ingest"
  description          = "loglake: S3 objects into the Parquet lake"
  artifacts_dir        = var.artifacts_dir
  architecture         = var.architecture
  memory_mb            = var.memory_mb
  timeout_s            = var.timeout_s
  reserved_concurrency = var.reserved_concurrency
  kms_key_arn          = var.kms_key_arn
  log_retention_days   = var.log_retention_days
  vpc                  = var.vpc
  permissions_boundary = var.permissions_boundary

  # The queue, the raw objects, the lake's prefixes and the key (which also
  # encrypts the alert tables and topic); modules/lambda adds the search and
  # alert grants with their settings. infra/policies/README.md says why each.
  policy_json = templatefile("${path.module}/../../policies/fn-ingest.json.tftpl", {
    queue_arn          = aws_sqs_queue.ingest.arn
    raw_bucket_arn     = var.raw_bucket_arn
    curated_bucket_arn = var.curated_bucket_arn
    kms_key_arn        = var.kms_key_arn
  })

  environment = {
    CURATED_BUCKET   = var.curated_bucket
    FORMAT_BY_PREFIX = var.format_by_prefix
    FORMATS_URI      = one([for o in aws_s3_object.formats : "s3://${o.bucket}/${o.key}"])
    SERVICE_FROM_KEY = "true"
    MEMORY_BUDGET_MB = tostring(var.memory_budget_mb)
    MAX_LINE_BYTES   = "1048576"
    REDACT           = var.redact
    # An object too long for one invocation continues in a new message.
    INGEST_QUEUE_URL = aws_sqs_queue.ingest.url
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

resource "aws_lambda_event_source_mapping" "ingest" {
  event_source_arn = aws_sqs_queue.ingest.arn
  function_name    = module.function.function_arn
  batch_size       = var.batch_size
  enabled          = true

  # One failed object never re-runs the others in its batch.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.max_concurrency
  }
}
