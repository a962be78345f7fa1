variable "name_prefix" {
  description = "Prefix of the dashboards' names: <prefix>-pipeline and <prefix>-business."
  type        = string
}

variable "region" {
  description = "Region of the metrics the dashboards' widgets draw (the functions', stream's and Firehose's region)."
  type        = string
}

variable "topic_arn" {
  description = "Where alarms (and their recovery) are sent."
  type        = string
}

variable "functions" {
  description = "Function names by a static key (ingest, stream, ...)."
  type        = map(string)
}

variable "scheduled_functions" {
  description = "Functions run every minute by a schedule (fn-alerts), by a static key: alarm when one has not been invoked for 5 minutes."
  type        = map(string)
  default     = {}
}

variable "alert_tables" {
  description = "The alert DynamoDB tables by a static key, for the dashboard (empty: no widget)."
  type        = map(string)
  default     = {}
}

variable "dead_letter_queues" {
  description = "Dead-letter and on-failure queue names by a static key."
  type        = map(string)
}

variable "stream_function_name" {
  description = "Name of fn-stream: the iterator-age and freshness alarms, and its dashboard lines."
  type        = string
}

variable "kinesis_stream_name" {
  description = "Name of the Kinesis stream fn-stream reads, for the dashboard's stream widgets and the iterator-age alarm's description."
  type        = string
}

variable "firehose_name" {
  description = "Name of the Firehose delivery stream: the delivery-failure alarm and its dashboard widget."
  type        = string
}

variable "iterator_age_threshold_ms" {
  description = "Alarm when fn-stream's IteratorAge (the oldest record not yet read) exceeds this, in milliseconds."
  type        = number
}

variable "business_log_groups" {
  description = "Log groups of the functions that write the per-service EMF lines (fn-ingest, fn-stream): the business dashboard's error rate per service is a Logs Insights query over them."
  type        = list(string)
}

variable "freshness_stream_threshold_ms" {
  description = "Alarm when fn-stream's FreshnessP95Ms stays above this for 15 minutes."
  type        = number
}

variable "freshness_ingest_threshold_ms" {
  description = "Alarm when fn-ingest's FreshnessP95Ms stays above this for 15 minutes (Firehose buffering adds minutes)."
  type        = number
}

variable "http_apis" {
  description = "The collectors' HTTP APIs (ApiId, stage $default) by a static key, for the dashboard (empty: no widget)."
  type        = map(string)
  default     = {}
}

variable "function_alias" {
  description = "The alias every trigger invokes (modules/lambda's live): the errors and throttles alarms select its metrics (Resource = <function>:<alias>)."
  type        = string
  default     = "live"
}

variable "quarantine_ratio_threshold" {
  description = "Alarm when fn-ingest quarantines more than this share (0-1) of the lines it reads over 5 minutes (the root's ingest_quarantine_ratio_alarm; unused without fn-ingest)."
  type        = number
  default     = 0.2
}
