# The file path: raw bucket ObjectCreated -> SQS (with a dead-letter queue)
# -> fn-ingest, which streams each object into the curated lake. The queue
# decouples S3 from Lambda: bursts wait, failures are retried per message
# and a poison object ends in the DLQ instead of blocking the others. The
# buckets AWS services write their logs to (aws_log_sources) feed the same
# queue, and fn-ingest reads them, read-only, under their prefixes. fn-canary,
# CodeDeploy's pre-traffic hook for fn-ingest, proves a new fn-ingest version
# on a canary object before any traffic reaches it.

locals {
  queue = "${var.name_prefix}-ingest"

  # The lake is at the curated bucket's root: the Glue tables' locations,
  # fn-ingest's WriteLake grants and the lifecycle rules all name logs/,
  # quarantine/ and _manifests/ there. One place for the CURATED_PREFIX
  # fn-ingest and fn-canary share (empty: modules/lambda leaves it unset).
  curated_prefix = ""
  # Canary objects: fn-canary puts one under this prefix of the raw bucket,
  # and fn-ingest writes what it makes of it under the same prefix of the
  # curated bucket (infra/policies/fn-ingest.json.tftpl and
  # fn-canary.json.tftpl name it), apart from the lake, its index and its
  # alerts; the curated bucket expires them (modules/storage).
  canary_prefix = "_canary/"

  # The buckets AWS services write their logs to (the root's
  # aws_log_sources), read-only: their ObjectCreated events come to the same
  # queue, fn-ingest reads the objects under each prefix (and nothing else of
  # the bucket) and knows their format from FORMAT_BY_PREFIX.
  aws_logs            = length(var.aws_log_sources) > 0
  aws_log_bucket_arns = distinct([for s in var.aws_log_sources : "arn:${var.partition}:s3:::${s.bucket}"])
  aws_log_object_arns = [for s in var.aws_log_sources : "arn:${var.partition}:s3:::${s.bucket}/${s.prefix}*"]
  aws_log_prefixes    = distinct([for s in var.aws_log_sources : "${s.prefix}*"])
  aws_log_key_arns    = distinct([for s in var.aws_log_sources : s.kms_key_arn if s.kms_key_arn != null])
  aws_log_keys        = length(local.aws_log_key_arns) > 0
  # s3://<bucket>/<prefix>=<format>: a pair that matches the bucket's objects only.
  aws_log_formats = [for s in var.aws_log_sources : "s3://${s.bucket}/${s.prefix}=${s.format}"]
  # One notification configuration per bucket (S3 keeps one), with a queue
  # configuration per prefix; sources with notify = false are notified by
  # whoever manages their bucket's configuration.
  aws_log_notifications = {
    for b in distinct([for s in var.aws_log_sources : s.bucket if s.notify]) :
    b => [for s in var.aws_log_sources : s.prefix if s.notify && s.bucket == b]
  }
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
  # S3 sends the ObjectCreated events of the raw bucket and of the AWS log
  # sources' buckets (whoever configured their notification), no other.
  statement {
    sid       = "BucketsNotify"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.ingest.arn]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = concat([var.raw_bucket_arn], local.aws_log_bucket_arns)
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

# The AWS log sources' buckets with notify = true. This REPLACES the bucket's
# whole notification configuration (S3 keeps one per bucket): a bucket whose
# notifications are someone else's is a source with notify = false.
resource "aws_s3_bucket_notification" "aws_logs" {
  for_each = local.aws_log_notifications

  bucket = each.key

  dynamic "queue" {
    for_each = each.value
    content {
      queue_arn     = aws_sqs_queue.ingest.arn
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = queue.value == "" ? null : queue.value
    }
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
  # encrypts the alert tables and topic); with AWS log sources, reading their
  # objects under each prefix (and decrypting with their keys, through S3
  # only). modules/lambda adds the search and alert grants with their
  # settings. infra/policies/README.md says why each.
  policy_json = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      jsondecode(templatefile("${path.module}/../../policies/fn-ingest.json.tftpl", {
        queue_arn          = aws_sqs_queue.ingest.arn
        raw_bucket_arn     = var.raw_bucket_arn
        curated_bucket_arn = var.curated_bucket_arn
        kms_key_arn        = var.kms_key_arn
      })).Statement,
      local.aws_logs ? jsondecode(templatefile("${path.module}/../../policies/fn-ingest-aws-logs.json.tftpl", {
        aws_log_object_arns = jsonencode(local.aws_log_object_arns)
        aws_log_bucket_arns = jsonencode(local.aws_log_bucket_arns)
        aws_log_prefixes    = jsonencode(local.aws_log_prefixes)
      })).Statement : [],
      local.aws_log_keys ? jsondecode(templatefile("${path.module}/../../policies/fn-ingest-aws-log-keys.json.tftpl", {
        aws_log_key_arns = jsonencode(local.aws_log_key_arns)
        region           = var.region
      })).Statement : [],
    )
  })

  environment = {
    CURATED_BUCKET = var.curated_bucket
    # The user's pairs, then s3://<bucket>/<prefix>=<format> per AWS log source.
    FORMAT_BY_PREFIX = join(",", compact(concat([var.format_by_prefix], local.aws_log_formats)))
    FORMATS_URI      = one([for o in aws_s3_object.formats : "s3://${o.bucket}/${o.key}"])
    SERVICE_FROM_KEY = "true"
    MEMORY_BUDGET_MB = tostring(var.memory_budget_mb)
    MAX_LINE_BYTES   = "1048576"
    REDACT           = var.redact
    # An object too long for one invocation continues in a new message.
    INGEST_QUEUE_URL = aws_sqs_queue.ingest.url
    CURATED_PREFIX   = local.curated_prefix
    # Objects under it are fn-canary's: their outputs go under the same
    # prefix of the curated bucket, never to the lake, the index or alerts.
    CANARY_PREFIX = local.canary_prefix
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

# The live alias, never the function: a new version gets messages only once
# CodeDeploy shifts the alias to it.
resource "aws_lambda_event_source_mapping" "ingest" {
  event_source_arn = aws_sqs_queue.ingest.arn
  function_name    = module.function.alias_arn
  batch_size       = var.batch_size
  enabled          = true

  # One failed object never re-runs the others in its batch.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.max_concurrency
  }
}

# --- fn-canary: the pre-traffic hook of fn-ingest's deployments -------------
#
# CodeDeploy invokes it (BeforeAllowTraffic, scripts/deploy-functions.py)
# before the first message reaches a new fn-ingest version: it reads the
# deployment (GetDeployment: the target version), puts a canary object under
# canary_prefix of the raw bucket, invokes that version on it, reads the
# manifest fn-ingest wrote under the same prefix of the curated bucket, and
# reports Succeeded or Failed (PutLifecycleEventHookExecutionStatus); Failed
# stops the deployment and CodeDeploy rolls it back. Nothing else invokes it.
module "canary" {
  source = "../lambda"

  name_prefix          = var.name_prefix
  binary               = "fn-canary"
  description          = "loglake: CodeDeploy's pre-traffic hook of fn-ingest: a canary object through the new version, its manifest checked"
  artifacts_dir        = var.artifacts_dir
  architecture         = var.architecture
  memory_mb            = 256
  timeout_s            = 900 # waits for fn-ingest's run (ingest_timeout_s, at most 900)
  reserved_concurrency = -1
  kms_key_arn          = var.kms_key_arn
  log_retention_days   = var.log_retention_days
  permissions_boundary = var.permissions_boundary

  # The hooked deployment groups (read the deployment, report the hook),
  # fn-ingest's versions (invoke the one under test), the raw bucket's
  # canary prefix (put the object), the curated bucket's (read and list the
  # manifests) and the key. See infra/policies/README.md.
  policy_json = templatefile("${path.module}/../../policies/fn-canary.json.tftpl", {
    deployment_group_arns = jsonencode(var.hook_deployment_group_arns)
    ingest_function_arn   = module.function.function_arn
    raw_bucket_arn        = var.raw_bucket_arn
    curated_bucket_arn    = var.curated_bucket_arn
    curated_prefix        = local.curated_prefix
    kms_key_arn           = var.kms_key_arn
  })

  # Config::from_vars of crates/fn-canary: where the canary object goes, and
  # where fn-ingest writes what it made of it (fn-ingest's own values).
  environment = {
    CANARY_BUCKET  = var.raw_bucket
    CANARY_PREFIX  = local.canary_prefix
    CURATED_BUCKET = var.curated_bucket
    CURATED_PREFIX = local.curated_prefix
  }
}
