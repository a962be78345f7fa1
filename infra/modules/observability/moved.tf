# The alarms' addresses before they were one map: an existing deployment
# moves them in state. Without this, each would be created under its new
# address and deleted under its old one, and as both carry the same name (a
# PutMetricAlarm on an existing name updates it), the delete could leave no
# alarm at all.

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["ingest"]
  to   = aws_cloudwatch_metric_alarm.this["errors/ingest"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["stream"]
  to   = aws_cloudwatch_metric_alarm.this["errors/stream"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["alerts"]
  to   = aws_cloudwatch_metric_alarm.this["errors/alerts"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["ingest"]
  to   = aws_cloudwatch_metric_alarm.this["throttles/ingest"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["stream"]
  to   = aws_cloudwatch_metric_alarm.this["throttles/stream"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["alerts"]
  to   = aws_cloudwatch_metric_alarm.this["throttles/alerts"]
}

moved {
  from = aws_cloudwatch_metric_alarm.schedule_stopped["alerts"]
  to   = aws_cloudwatch_metric_alarm.this["not_running/alerts"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dead_letters["ingest"]
  to   = aws_cloudwatch_metric_alarm.this["dead_letters/ingest"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dead_letters["stream"]
  to   = aws_cloudwatch_metric_alarm.this["dead_letters/stream"]
}

moved {
  from = aws_cloudwatch_metric_alarm.iterator_age
  to   = aws_cloudwatch_metric_alarm.this["iterator_age/stream"]
}

moved {
  from = aws_cloudwatch_metric_alarm.firehose_delivery
  to   = aws_cloudwatch_metric_alarm.this["firehose_delivery/firehose"]
}
