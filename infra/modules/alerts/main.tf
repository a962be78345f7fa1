# Where every alert goes: one encrypted SNS topic that CloudWatch alarms, the
# pipeline's approval step, fn-alerts and the instant rules of fn-ingest and
# fn-stream publish to, with an optional e-mail subscription. With `enabled`
# (the root's enable_alerts) it also owns the content alerts of issue 6: the
# rules object in the curated bucket, the two DynamoDB tables, fn-alerts
# through ../lambda, and its one-minute schedule. See README.md here.

resource "aws_sns_topic" "alerts" {
  name              = "${var.name_prefix}-alerts"
  kms_master_key_id = var.kms_key_arn
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "AccountPublishes"
    actions   = ["sns:Publish", "sns:GetTopicAttributes", "sns:Subscribe"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
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

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alert_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

# --- content alerts (issue 6) -------------------------------------------------

# One item per (minute, source identity): pk = the minute ("2026-11-22T05:21"),
# sk = the hash of the source identity, data = the contribution as JSON. A
# redelivered source overwrites its own item, so sums stay exact under
# at-least-once delivery. Only key attributes are declared; `data` and
# `expires` are schemaless. In both tables items carry their expiry (epoch
# seconds) in `expires`; DynamoDB deletes them within days of it, so readers
# still filter on it.
resource "aws_dynamodb_table" "windows" {
  count = var.enabled ? 1 : 0

  name                        = "${var.name_prefix}-alert-windows"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expires"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}

# Alert state per (rule, group), and the instant-alert dedup markers per
# (rule, group, minute): every transition is a conditional write, so two
# evaluators (or a retry) publish one notification per transition.
resource "aws_dynamodb_table" "state" {
  count = var.enabled ? 1 : 0

  name                        = "${var.name_prefix}-alert-state"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expires"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}

# The rules travel as an object, not in the functions' environment (4 KB
# for everything): fn-alerts, fn-ingest and fn-stream read it through
# ALERT_RULES_URI and read it again when it changed, checked at most every
# ALERT_RULES_REFRESH_S (60 s by default). source_hash uploads an edited
# file again; the etag of an SSE-KMS object is not its MD5.
resource "aws_s3_object" "rules" {
  count = var.enabled ? 1 : 0

  bucket       = var.curated_bucket
  key          = "_config/alerts.toml"
  source       = var.rules_path
  source_hash  = filemd5(var.rules_path)
  content_type = "application/toml"
  kms_key_id   = var.kms_key_arn

  lifecycle {
    precondition {
      condition     = var.rules_path != null
      error_message = "rules_path is required when enabled: the alert rules file to upload."
    }
  }
}

module "function" {
  source = "../lambda"
  count  = var.enabled ? 1 : 0

  name_prefix   = var.name_prefix
  binary        = "fn-alerts"
  description   = "loglake: evaluates the alert rules over the window contributions every minute"
  artifacts_dir = var.artifacts_dir
  architecture  = var.architecture
  memory_mb     = 256
  timeout_s     = 60
  # No reserved concurrency: correctness comes from conditional writes on the
  # state table, so an overlapping run (a slow minute next to the next tick)
  # is harmless, and reserving 1 would only throttle that run and take
  # capacity from the account pool. The schedule bounds it anyway: one
  # invocation a minute, no retries, timeout <= the period, so at most two.
  reserved_concurrency = -1
  kms_key_arn          = var.kms_key_arn
  log_retention_days   = var.log_retention_days
  permissions_boundary = var.permissions_boundary

  # Read the rules object; query the windows; move (rule, group) between ok
  # and firing with a conditional UpdateItem and Scan for what is firing;
  # publish; keep the summary's progress item and late-hour markers in the
  # windows table and write the summary's hourly files under summary/ of
  # the curated bucket; and the key of the topic, both tables, the bucket
  # and the rules object. See infra/policies/README.md.
  policy_json = templatefile("${path.module}/../../policies/fn-alerts.json.tftpl", {
    windows_table_arn  = aws_dynamodb_table.windows[0].arn
    state_table_arn    = aws_dynamodb_table.state[0].arn
    topic_arn          = aws_sns_topic.alerts.arn
    curated_bucket_arn = var.curated_bucket_arn
    rules_object_arn   = "${var.curated_bucket_arn}/${aws_s3_object.rules[0].key}"
    kms_key_arn        = var.kms_key_arn
  })

  environment = {
    ALERT_RULES_URI       = "s3://${var.curated_bucket}/${aws_s3_object.rules[0].key}"
    ALERT_WINDOWS_TABLE   = aws_dynamodb_table.windows[0].name
    ALERT_STATE_TABLE     = aws_dynamodb_table.state[0].name
    ALERT_TOPIC_ARN       = aws_sns_topic.alerts.arn
    ALERT_ATHENA_DATABASE = var.athena_database
    # The per-minute summary (the Glue table summary) of each closed hour.
    SUMMARY_BUCKET = var.curated_bucket
  }
}

# Invoked asynchronously by the schedule. A retried or late evaluation is
# superseded by the next minute's, which re-reads the same windows: no
# retries, and an event older than a minute is dropped.
resource "aws_lambda_function_event_invoke_config" "function" {
  count = var.enabled ? 1 : 0

  # Per qualifier: the schedule invokes the live alias, so that is where
  # the settings must be.
  function_name                = module.function[0].function_name
  qualifier                    = module.function[0].alias_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}

resource "aws_cloudwatch_event_rule" "schedule" {
  count = var.enabled ? 1 : 0

  name                = "${var.name_prefix}-fn-alerts"
  description         = "Runs fn-alerts every minute"
  schedule_expression = "rate(1 minute)"
}

resource "aws_cloudwatch_event_target" "schedule" {
  count = var.enabled ? 1 : 0

  rule = aws_cloudwatch_event_rule.schedule[0].name
  # The live alias: a new version runs on schedule once CodeDeploy shifts
  # the alias to it.
  arn = module.function[0].alias_arn

  retry_policy {
    maximum_retry_attempts       = 0
    maximum_event_age_in_seconds = 60
  }
}

resource "aws_lambda_permission" "schedule" {
  count = var.enabled ? 1 : 0

  statement_id  = "InvokeEveryMinute"
  action        = "lambda:InvokeFunction"
  function_name = module.function[0].function_name
  qualifier     = module.function[0].alias_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule[0].arn
}
