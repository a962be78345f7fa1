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
  type = string
}

variable "partition" {
  type = string
}

variable "artifacts_dir" {
  type = string
}

variable "architecture" {
  type = string
}

variable "reserved_concurrency" {
  type = number
}

variable "redact" {
  type = string
}

variable "log_retention_days" {
  type = number
}

variable "permissions_boundary" {
  description = "ARN of the deployment's permission boundary (modules/boundary): every role here carries it."
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
  type = string
}

variable "curated_bucket_arn" {
  type = string
}

variable "lake_kms_key_arn" {
  description = "The home data key (the buckets, alert tables and topic)."
  type        = string
}

variable "athena_database" {
  type = string
}

variable "search" {
  type = object({
    enabled    = bool
    domain_arn = string
  })
}

variable "search_environment" {
  type = map(string)
}

variable "alerts" {
  type = object({
    enabled           = bool
    windows_table_arn = string
    state_table_arn   = string
    topic_arn         = string
  })
}

variable "alerts_environment" {
  type = map(string)
}

# --- the real-time path ------------------------------------------------------

variable "stream_memory_mb" {
  type = number
}

variable "stream_timeout_s" {
  type = number
}

variable "stream_max_retry_attempts" {
  type = number
}

variable "stream_max_record_age_s" {
  type = number
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
  type = number
}

variable "collect_timeout_s" {
  type = number
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
