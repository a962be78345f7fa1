# Alarms on what can go wrong without anyone noticing (function errors and
# throttles, a scheduled function that stopped running, anything in a
# dead-letter queue, the stream falling behind, Firehose failing to
# deliver), all to the alerts topic; and a dashboard of
# the pipeline's own EMF metrics (namespace loglake, dimensions function and
# format; crates/core/src/metrics.rs) beside the AWS service metrics.

locals {
  # Static keys, so for_each is known before the functions and queues exist.
  functions = var.functions
  queues    = var.dead_letter_queues
  actions   = [var.topic_arn]
  emf = {
    namespace = "loglake"
    metrics   = ["LinesIn", "RowsOut", "Quarantined", "BytesIn", "BytesDecoded", "DurationMs"]
  }
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.functions

  alarm_name          = "${each.value}-errors"
  alarm_description   = "${each.value} returned errors (a failed object or batch; see its log group)"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  for_each = local.functions

  alarm_name          = "${each.value}-throttles"
  alarm_description   = "${each.value} was throttled (account or reserved concurrency exhausted)"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

# fn-alerts runs every minute; no invocation for 5 minutes means the schedule
# or the function is gone or disabled, and nothing evaluates the rules. Its
# failed runs are caught by function_errors above.
resource "aws_cloudwatch_metric_alarm" "schedule_stopped" {
  for_each = var.scheduled_functions

  alarm_name          = "${each.value}-not-running"
  alarm_description   = "${each.value} has not been invoked for 5 minutes (it runs every minute): check its schedule"
  namespace           = "AWS/Lambda"
  metric_name         = "Invocations"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each = local.queues

  alarm_name          = "${each.value}-not-empty"
  alarm_description   = "${each.value} holds messages that could not be processed: inspect them, fix, then redrive"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  alarm_name          = "${var.stream_function_name}-iterator-age"
  alarm_description   = "${var.stream_function_name} is falling behind ${var.kinesis_stream_name}: records wait longer than the threshold"
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = var.stream_function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.iterator_age_threshold_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "firehose_delivery" {
  alarm_name          = "${var.firehose_name}-delivery-failures"
  alarm_description   = "${var.firehose_name} failed to deliver to the raw bucket (DeliveryToS3.Success below 1)"
  namespace           = "AWS/Firehose"
  metric_name         = "DeliveryToS3.Success"
  dimensions          = { DeliveryStreamName = var.firehose_name }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

locals {
  search = { for m in local.emf.metrics : m => "SEARCH('{${local.emf.namespace},function,format} MetricName=\"${m}\"', 'Sum', 300)" }

  emf_widget = { for i, m in local.emf.metrics : m => {
    type   = "metric"
    x      = (i % 3) * 8
    y      = floor(i / 3) * 6
    width  = 8
    height = 6
    properties = {
      title   = "${m} by function and format"
      region  = var.region
      view    = "timeSeries"
      stacked = true
      stat    = "Sum"
      period  = 300
      metrics = [[{ expression = local.search[m], id = "e${i}", label = "" }]]
    }
  } }

  lambda_widget = { for i, metric in ["Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions", "IteratorAge"] : metric => {
    type   = "metric"
    x      = (i % 3) * 8
    y      = 12 + floor(i / 3) * 6
    width  = 8
    height = 6
    properties = {
      title   = "Lambda ${metric}"
      region  = var.region
      view    = "timeSeries"
      stat    = contains(["Duration", "IteratorAge", "ConcurrentExecutions"], metric) ? "Maximum" : "Sum"
      period  = 60
      metrics = [for f in values(var.functions) : ["AWS/Lambda", metric, "FunctionName", f]]
    }
  } }

  queue_widget = {
    type   = "metric"
    x      = 0
    y      = 24
    width  = 12
    height = 6
    properties = {
      title   = "Dead-letter and failure queues"
      region  = var.region
      view    = "timeSeries"
      stat    = "Maximum"
      period  = 60
      metrics = [for q in values(var.dead_letter_queues) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]]
    }
  }

  firehose_widget = {
    type   = "metric"
    x      = 12
    y      = 24
    width  = 12
    height = 6
    properties = {
      title  = "Kinesis and Firehose"
      region = var.region
      view   = "timeSeries"
      period = 300
      metrics = [
        ["AWS/Kinesis", "IncomingRecords", "StreamName", var.kinesis_stream_name, { stat = "Sum" }],
        ["AWS/Firehose", "DeliveryToS3.Records", "DeliveryStreamName", var.firehose_name, { stat = "Sum" }],
        ["AWS/Firehose", "DeliveryToS3.Success", "DeliveryStreamName", var.firehose_name, { stat = "Minimum", yAxis = "right" }],
      ]
    }
  }

  alert_tables_widget = {
    type   = "metric"
    x      = 0
    y      = 30
    width  = 24
    height = 6
    properties = {
      title  = "Alert tables"
      region = var.region
      view   = "timeSeries"
      stat   = "Sum"
      period = 300
      metrics = concat(
        [for t in values(var.alert_tables) : ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", t]],
        [for t in values(var.alert_tables) : ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", t]],
        [for t in values(var.alert_tables) : ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", t, { yAxis = "right" }]],
      )
    }
  }
}

resource "aws_cloudwatch_dashboard" "pipeline" {
  dashboard_name = "${var.name_prefix}-pipeline"
  dashboard_body = jsonencode({
    widgets = concat(
      values(local.emf_widget),
      values(local.lambda_widget),
      [local.queue_widget, local.firehose_widget],
      length(var.alert_tables) > 0 ? [local.alert_tables_widget] : [],
    )
  })
}
