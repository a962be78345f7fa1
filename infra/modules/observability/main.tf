# Alarms on what can go wrong without anyone noticing (function errors and
# throttles, a scheduled function that stopped running, anything in a
# dead-letter queue, the stream falling behind, Firehose failing to
# deliver, rows reaching the lake late), all to the alerts topic; a dashboard of
# the pipeline's own EMF metrics (namespace loglake, dimensions function and
# format; crates/core/src/metrics.rs) beside the AWS service metrics; and a
# dashboard of the business: records, errors and latency per service, from
# the per-service EMF metrics of fn-ingest and fn-stream. The alarms that
# watch a function's new version while CodeDeploy shifts traffic to it
# (modules/codedeploy rolls back when one fires) are listed per function in
# the rollback_alarm_names output.

locals {
  actions = [var.topic_arn]
  emf = {
    namespace = "loglake"
    metrics   = ["LinesIn", "RowsOut", "Quarantined", "Merged", "CorruptMembers", "BytesIn", "BytesDecoded", "DurationMs"]
  }

  # Every alarm, one entry per kind: what it watches (targets: a static key,
  # so for_each is known before the functions and queues exist, => the name
  # of the function, queue or stream, which starts the alarm's name and
  # description), its metric and dimension, and when it fires; what an entry
  # leaves out is alarm_defaults. Each target of a kind is one alarm, keyed
  # "<kind>/<target key>" and named "<target>-<suffix>".
  alarm_defaults = {
    statistic          = "Sum"
    period             = 300
    evaluation_periods = 1
    threshold          = 0
    comparison         = "GreaterThanThreshold"
    treat_missing_data = "notBreaching"
  }

  alarm_kinds = {
    # On the live alias (dimensions FunctionName and Resource =
    # "<function>:live"), which every trigger invokes: all of the traffic,
    # the new version's share included while CodeDeploy shifts it, which
    # these two alarms roll back (modules/codedeploy).
    errors = {
      targets     = var.functions
      suffix      = "errors"
      description = "returned errors (a failed object or batch; see its log group)"
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimension   = "FunctionName"
      on_alias    = true
    }
    throttles = {
      targets     = var.functions
      suffix      = "throttles"
      description = "was throttled (account or reserved concurrency exhausted)"
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      dimension   = "FunctionName"
      on_alias    = true
    }
    # fn-alerts runs every minute; no invocation for 5 minutes means the
    # schedule or the function is gone or disabled, and nothing evaluates the
    # rules. Its failed runs are caught by errors above.
    not_running = {
      targets            = var.scheduled_functions
      suffix             = "not-running"
      description        = "has not been invoked for 5 minutes (it runs every minute): check its schedule"
      namespace          = "AWS/Lambda"
      metric             = "Invocations"
      dimension          = "FunctionName"
      threshold          = 1
      comparison         = "LessThanThreshold"
      treat_missing_data = "breaching"
    }
    dead_letters = {
      targets     = var.dead_letter_queues
      suffix      = "not-empty"
      description = "holds messages that could not be processed: inspect them, fix, then redrive"
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimension   = "QueueName"
      statistic   = "Maximum"
      period      = 60
    }
    iterator_age = {
      targets            = { stream = var.stream_function_name }
      suffix             = "iterator-age"
      description        = "is falling behind ${var.kinesis_stream_name}: records wait longer than the threshold"
      namespace          = "AWS/Lambda"
      metric             = "IteratorAge"
      dimension          = "FunctionName"
      statistic          = "Maximum"
      period             = 60
      evaluation_periods = 5
      threshold          = var.iterator_age_threshold_ms
    }
    # fn-ingest's EMF metric (dimension function = its deployed name): a
    # gzip member it had to skip, whose lines are lost or quarantined. A
    # collect region has no fn-ingest, and so no such alarm.
    corrupt_input = {
      targets     = { for k, f in var.functions : k => f if k == "ingest" }
      suffix      = "corrupt-input"
      description = "skipped damaged gzip members (manifests with outcome corrupt; the lines after them were read)"
      namespace   = "loglake"
      metric      = "CorruptMembers"
      dimension   = "function"
    }
    # fn-stream's EMF metric: Firehose records it could not forward before
    # its retries ran out, kept under stream-dlq/ in the curated bucket.
    stream_dead_letters = {
      targets     = { stream = var.stream_function_name }
      suffix      = "stream-dead-letters"
      description = "kept records it could not forward under stream-dlq/ in the curated bucket: replay them with loglake replay FILE --firehose NAME"
      namespace   = "loglake"
      metric      = "StreamDeadLetterRecords"
      dimension   = "function"
    }
    # Freshness (EMF, dimension function): per batch, the p95 of the lag
    # from each record's event time to when fn-stream forwarded its row or
    # fn-ingest wrote it to Parquet; the worst batch of each 5 minutes, 15
    # minutes running. fn-ingest's lag includes Firehose's buffering.
    freshness_stream = {
      targets            = { stream = var.stream_function_name }
      suffix             = "freshness"
      description        = "forwards rows later than the threshold after their event time (FreshnessP95Ms of its batches, 15 minutes running)"
      namespace          = "loglake"
      metric             = "FreshnessP95Ms"
      dimension          = "function"
      statistic          = "Maximum"
      evaluation_periods = 3
      threshold          = var.freshness_stream_threshold_ms
    }
    freshness_ingest = {
      targets            = { for k, f in var.functions : k => f if k == "ingest" }
      suffix             = "freshness"
      description        = "writes rows to the lake later than the threshold after their event time (FreshnessP95Ms of its batches, 15 minutes running; Firehose buffering included)"
      namespace          = "loglake"
      metric             = "FreshnessP95Ms"
      dimension          = "function"
      statistic          = "Maximum"
      evaluation_periods = 3
      threshold          = var.freshness_ingest_threshold_ms
    }
    firehose_delivery = {
      targets     = { firehose = var.firehose_name }
      suffix      = "delivery-failures"
      description = "failed to deliver to the raw bucket (DeliveryToS3.Success below 1)"
      namespace   = "AWS/Firehose"
      metric      = "DeliveryToS3.Success"
      dimension   = "DeliveryStreamName"
      statistic   = "Minimum"
      threshold   = 1
      comparison  = "LessThanThreshold"
    }
  }

  alarms = merge([
    for kind, a in local.alarm_kinds : {
      for key, target in a.targets : "${kind}/${key}" => merge(local.alarm_defaults, a, {
        name        = "${target}-${a.suffix}"
        description = "${target} ${a.description}"
        dimensions  = merge({ (a.dimension) = target }, lookup(a, "on_alias", false) ? { Resource = "${target}:${var.function_alias}" } : {})
      })
    }
  ]...)
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = each.value.name
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  treat_missing_data  = each.value.treat_missing_data
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

# What fn-ingest makes of what it reads, from its per-source EMF metrics
# (namespace loglake, dimension function; crates/core/src/metrics.rs) over
# 5 minutes: the share of lines it quarantined, and whether lines came in
# while no row went out. Metric math over Sums; a 5 minutes without any
# source is missing data, not breaching. fn-stream emits none of these (its
# lines become rows in fn-ingest), so they watch fn-ingest alone; they roll
# back its deployments with the errors, throttles and dead-letter alarms.
locals {
  output_metrics = { lines = "LinesIn", rows = "RowsOut", quarantined = "Quarantined" }

  output_alarm_kinds = {
    quarantine_ratio = {
      suffix      = "quarantine-ratio"
      description = "quarantined more than ${var.quarantine_ratio_threshold * 100}% of the lines it read over 5 minutes (Quarantined / LinesIn): a format it no longer parses; see the quarantine/ prefix and its log group"
      expression  = "IF(lines > 0, FILL(quarantined, 0) / lines, 0)"
      label       = "quarantined / lines in"
      metrics     = ["lines", "quarantined"]
      threshold   = var.quarantine_ratio_threshold
    }
    rows_stopped = {
      suffix      = "rows-stopped"
      description = "read lines but wrote no rows for 5 minutes (LinesIn > 0, RowsOut = 0): nothing reaches the lake; see its log group and the manifests"
      expression  = "IF(lines > 0 AND FILL(rows, 0) == 0, 1, 0)"
      label       = "lines in without rows out"
      metrics     = ["lines", "rows"]
      threshold   = 0
    }
  }

  ingest_functions = { for k, f in var.functions : k => f if k == "ingest" }

  output_alarms = merge([
    for kind, a in local.output_alarm_kinds : {
      for key, target in local.ingest_functions : "${kind}/${key}" => merge(a, {
        name        = "${target}-${a.suffix}"
        description = "${target} ${a.description}"
        function    = target
      })
    }
  ]...)
}

resource "aws_cloudwatch_metric_alarm" "output" {
  for_each = local.output_alarms

  alarm_name          = each.value.name
  alarm_description   = each.value.description
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "output"
    expression  = each.value.expression
    label       = each.value.label
    return_data = true
  }

  dynamic "metric_query" {
    for_each = toset(each.value.metrics)
    content {
      id = metric_query.value
      metric {
        namespace   = local.emf.namespace
        metric_name = local.output_metrics[metric_query.value]
        stat        = "Sum"
        period      = 300
        dimensions  = { function = each.value.function }
      }
    }
  }
}

# Per function (by the static key of var.functions), the alarms a
# deployment of it must not set off: its errors and throttles on the live
# alias, its dead-letter or on-failure queue where it has one, and for
# fn-ingest what it writes (above). CodeDeploy stops and rolls back a
# deployment when one of them fires, and starts none while one is firing.
locals {
  rollback_alarms = {
    for k in keys(var.functions) : k => concat(
      [for kind in ["errors", "throttles", "dead_letters"] : "${kind}/${k}" if contains(keys(local.alarms), "${kind}/${k}")],
      [for kind in keys(local.output_alarm_kinds) : "${kind}/${k}" if contains(keys(local.output_alarms), "${kind}/${k}")],
    )
  }
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

# Freshness of the two paths into the lake (fn-stream: event time to
# forwarded; fn-ingest: event time to written to Parquet), p50 and p95 of
# each batch, with the alarms' thresholds; and the collectors' HTTP APIs.
locals {
  freshness = {
    namespace  = "loglake"
    dimensions = [["function"]]
    metrics = {
      p50 = { name = "FreshnessP50Ms", unit = "Milliseconds" }
      p95 = { name = "FreshnessP95Ms", unit = "Milliseconds" }
    }
  }

  freshness_functions = { for k, f in var.functions : k => f if contains(["stream", "ingest"], k) }

  freshness_widget = {
    type   = "metric"
    x      = 0
    y      = 36
    width  = 12
    height = 6
    properties = {
      title  = "Freshness: event time to forwarded (fn-stream) and to Parquet (fn-ingest), ms"
      region = var.region
      view   = "timeSeries"
      stat   = "Maximum"
      period = 300
      metrics = [
        for pair in setproduct(keys(local.freshness_functions), values(local.freshness.metrics)) :
        [local.freshness.namespace, pair[1].name, local.freshness.dimensions[0][0], local.freshness_functions[pair[0]]]
      ]
      annotations = {
        horizontal = concat(
          contains(keys(local.freshness_functions), "stream") ? [{ label = "fn-stream alarm", value = var.freshness_stream_threshold_ms }] : [],
          contains(keys(local.freshness_functions), "ingest") ? [{ label = "fn-ingest alarm", value = var.freshness_ingest_threshold_ms }] : [],
        )
      }
    }
  }

  http_api_widget = {
    type   = "metric"
    x      = 12
    y      = 36
    width  = 12
    height = 6
    properties = {
      title  = "Collector HTTP API: requests, 4xx, 5xx"
      region = var.region
      view   = "timeSeries"
      stat   = "Sum"
      period = 60
      metrics = [
        for pair in setproduct(keys(var.http_apis), ["Count", "4xx", "5xx"]) :
        ["AWS/ApiGateway", pair[1], "ApiId", var.http_apis[pair[0]], "Stage", "$default"]
      ]
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
      length(local.freshness_functions) > 0 ? [local.freshness_widget] : [],
      length(var.http_apis) > 0 ? [local.http_api_widget] : [],
    )
  })
}

# --- the business dashboard ----------------------------------------------------
#
# Per-service EMF metrics of fn-ingest and fn-stream: namespace loglake, one
# dimension set [["service"]] (bounded: past 50 distinct names in an
# invocation, or a name outside [A-Za-z0-9._-]{1,64}, a function counts the
# service as "(other)"), so 3 custom metrics per service. tests/test_infra.py
# holds these names to the ones the functions emit.
locals {
  business = {
    namespace  = "loglake"
    dimensions = [["service"]]
    metrics = {
      records = { name = "ServiceRecords", unit = "Count" }
      errors  = { name = "ServiceErrors", unit = "Count" }
      latency = { name = "ServiceLatency", unit = "Milliseconds" }
    }
  }

  # The SEARCH query of each metric: one time series per service that reported.
  business_query = { for k, m in local.business.metrics : k => "{${local.business.namespace},${join(",", local.business.dimensions[0])}} MetricName=\"${m.name}\"" }

  business_widgets = [
    {
      type   = "metric"
      x      = 0
      y      = 0
      width  = 12
      height = 6
      properties = {
        title   = "Records per minute, per service"
        region  = var.region
        view    = "timeSeries"
        stacked = true
        stat    = "Sum"
        period  = 60
        metrics = [[{ expression = "SEARCH('${local.business_query.records}', 'Sum', 60)", id = "records", label = "" }]]
      }
    },
    {
      type   = "metric"
      x      = 12
      y      = 0
      width  = 12
      height = 6
      properties = {
        title   = "Errors (ERROR, FATAL) per minute, per service"
        region  = var.region
        view    = "timeSeries"
        stacked = true
        stat    = "Sum"
        period  = 60
        metrics = [[{ expression = "SEARCH('${local.business_query.errors}', 'Sum', 60)", id = "errors", label = "" }]]
      }
    },
    # Metric math cannot divide one SEARCH's series by another's service by
    # service (its arithmetic takes two single series, or an array and one
    # series), and a widget per service would miss services that appear
    # later. Each EMF line carries a service's records and errors together,
    # so the per-service rate is a Logs Insights query over those lines in
    # the two functions' log groups (charged per GB scanned when it loads).
    {
      type   = "log"
      x      = 0
      y      = 6
      width  = 12
      height = 6
      properties = {
        title  = "Error rate per service, % (Logs Insights over the EMF lines)"
        region = var.region
        view   = "timeSeries"
        query  = "${join(" | ", [for g in var.business_log_groups : "SOURCE '${g}'"])} | filter ${local.business.metrics.records.name} > 0 | stats sum(${local.business.metrics.errors.name}) * 100 / sum(${local.business.metrics.records.name}) as error_pct by bin(1m), service"
      }
    },
    # All services together: the sums of the two SEARCHes are single
    # series, which metric math divides.
    {
      type   = "metric"
      x      = 12
      y      = 6
      width  = 12
      height = 6
      properties = {
        title  = "Error rate, all services, %"
        region = var.region
        view   = "timeSeries"
        period = 60
        metrics = [
          [{ expression = "100 * SUM(errors_all) / SUM(records_all)", id = "error_pct", label = "errors / records, %" }],
          [{ expression = "SEARCH('${local.business_query.errors}', 'Sum', 60)", id = "errors_all", visible = false }],
          [{ expression = "SEARCH('${local.business_query.records}', 'Sum', 60)", id = "records_all", visible = false }],
        ]
      }
    },
    # ServiceLatency carries the records' latencies as values (up to 100 per
    # EMF line), so CloudWatch keeps their distribution and percentiles work.
    {
      type   = "metric"
      x      = 0
      y      = 12
      width  = 24
      height = 6
      properties = {
        title   = "p95 latency per service, ms"
        region  = var.region
        view    = "timeSeries"
        stacked = false
        stat    = "p95"
        period  = 60
        metrics = [[{ expression = "SEARCH('${local.business_query.latency}', 'p95', 60)", id = "p95", label = "" }]]
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "business" {
  dashboard_name = "${var.name_prefix}-business"
  dashboard_body = jsonencode({ widgets = local.business_widgets })
}
