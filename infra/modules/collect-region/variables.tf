variable "name_prefix" {
  description = "The deployment's prefix; this region's resources are named <prefix>-<region>-..."
  type        = string
}

variable "region" {
  description = "This collect region (the region of the provider the root passes)."
  type        = string
}

variable "lake_region" {
  description = "The home region (the lake's): LAKE_REGION of this region's fn-stream."
  type        = string
}

variable "account_id" {
  description = "AWS account ID of the deployment (the same in every region)."
  type        = string
}

variable "partition" {
  description = "AWS partition of the ARNs (aws, aws-cn, aws-us-gov), from data.aws_partition."
  type        = string
}

variable "artifacts_dir" {
  description = "Directory cargo lambda wrote the zips to (<dir>/fn-stream/bootstrap.zip, <dir>/fn-collect/bootstrap.zip): the same zips as the home region's."
  type        = string
}

variable "architecture" {
  description = "Instruction set of the function, arm64 or x86_64; must match the zip (`make package` builds arm64). Validated by modules/lambda."
  type        = string
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of each function here; -1 reserves none (the account's unreserved pool)."
  type        = number
}

variable "redact" {
  description = "REDACT of this region's fn-stream and fn-collect, as at home (the root's redact)."
  type        = string
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps this region's log groups (the root's log_retention_days)."
  type        = number
}

variable "permissions_boundary" {
  description = "ARN of the deployment's permission boundary (modules/boundary): every role here carries it."
  type        = string
}

variable "deployment_config" {
  description = "How this region's CodeDeploy shifts the live aliases to a new version (the root's deployment_config: one of AWS's predefined Lambda configurations)."
  type        = string
}

variable "alert_email" {
  description = "Subscribed by e-mail to this region's alarm topic when not empty."
  type        = string
  default     = ""
}

# --- the lake, in the home region ----------------------------------------------

variable "raw_bucket_arn" {
  description = "The home raw bucket: this region's Firehose delivers there."
  type        = string
}

variable "curated_bucket" {
  description = "Name of the home curated bucket: CURATED_BUCKET of this region's fn-stream (quarantine and progress notes)."
  type        = string
}

variable "curated_bucket_arn" {
  description = "ARN of the home curated bucket, for fn-stream's policy."
  type        = string
}

variable "lake_kms_key_arn" {
  description = "The home data key (the buckets, alert tables and topic)."
  type        = string
}

variable "athena_database" {
  description = "Name of the lake's Glue database (the home region's), required by modules/alerts for the region's topic."
  type        = string
}

variable "search" {
  description = "Whether fn-stream indexes into the home search domain, and the domain's ARN (null when off); the root's local.search_access."
  type = object({
    enabled    = bool
    domain_arn = string
  })
}

variable "search_environment" {
  description = "The SEARCH_* settings of fn-stream (SEARCH_ENDPOINT, SEARCH_AUTH, SEARCH_SERVICE, SEARCH_INDEX_PREFIX, SEARCH_MIN_LEVEL), applied only when search.enabled."
  type        = map(string)
}

variable "alerts" {
  description = "Whether fn-stream evaluates the alert rules (writes alert windows and publishes instant alerts), and the ARNs of the home rules object, tables and topic; the root's local.alerts_access."
  type = object({
    enabled           = bool
    windows_table_arn = string
    state_table_arn   = string
    topic_arn         = string
    rules_object_arn  = string
  })
}

variable "alerts_environment" {
  description = "The ALERT_* settings of fn-stream (the home rules object, tables, topic and database), applied only when alerts.enabled."
  type        = map(string)
}

# --- the real-time path ------------------------------------------------------

variable "stream_memory_mb" {
  description = "Memory of this region's fn-stream, in MB."
  type        = number
}

variable "stream_timeout_s" {
  description = "Timeout of this region's fn-stream, in seconds."
  type        = number
}

variable "stream_max_retry_attempts" {
  description = "Retries of a failing Kinesis batch before its records' coordinates go to the on-failure queue (0-10000)."
  type        = number
}

variable "stream_max_record_age_s" {
  description = "Age in seconds past which a record is sent to the on-failure queue instead of retried (60-604800)."
  type        = number
}

variable "stream" {
  description = "The rest of the stream's settings, as the root gives modules/stream and modules/observability at home."
  type = object({
    batch_size                = number
    batching_window_s         = number
    parallelization_factor    = number
    stream_mode               = string
    shard_count               = number
    retention_hours           = number
    firehose_buffer_size_mb   = number
    firehose_buffer_s         = number
    iterator_age_threshold_ms = number
    freshness_threshold_ms    = number
  })
}

# --- the collector -----------------------------------------------------------

variable "collect_memory_mb" {
  description = "Memory of this region's fn-collect, in MB."
  type        = number
}

variable "collect_timeout_s" {
  description = "Timeout of this region's fn-collect, in seconds (under API Gateway's 30 s)."
  type        = number
}

variable "collect" {
  description = "The collector's settings, as the root gives modules/collect at home (no custom domain here: a certificate is regional)."
  type = object({
    event_service        = string
    max_body_bytes       = number
    allowed_origins      = list(string)
    auth                 = string
    jwt_issuer           = string
    jwt_audience         = list(string)
    throttle_rate        = number
    throttle_burst       = number
    function_url         = bool
    error_rate_alarm_pct = number
  })
}
