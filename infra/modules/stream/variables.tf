variable "name_prefix" {
  type = string
}

variable "account_id" {
  type = string
}

variable "region" {
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

variable "memory_mb" {
  type = number
}

variable "timeout_s" {
  type = number
}

variable "batch_size" {
  type = number
}

variable "batching_window_s" {
  type = number
}

variable "parallelization_factor" {
  type = number
}

variable "max_retry_attempts" {
  description = "Finite: a failing batch is retried at most this often."
  type        = number

  validation {
    condition     = var.max_retry_attempts >= 0 && var.max_retry_attempts <= 10000
    error_message = "max_retry_attempts must be between 0 and 10000 (never -1, infinite)."
  }
}

variable "max_record_age_s" {
  description = "Finite: records older than this are sent to the failure queue."
  type        = number

  validation {
    condition     = var.max_record_age_s >= 60 && var.max_record_age_s <= 604800
    error_message = "max_record_age_s must be between 60 and 604800 (never -1, infinite)."
  }
}

variable "reserved_concurrency" {
  type = number
}

variable "redact" {
  type = string
}

variable "stream_mode" {
  type = string
}

variable "shard_count" {
  type = number
}

variable "retention_hours" {
  type = number
}

variable "firehose_buffer_size_mb" {
  type = number
}

variable "firehose_buffer_s" {
  type = number
}

variable "raw_bucket_arn" {
  type = string
}

variable "curated_bucket" {
  type = string
}

variable "curated_bucket_arn" {
  type = string
}

variable "kms_key_arn" {
  description = "This region's key: the stream (unless stream_kms_key), the Firehose buffer, the function's environment and the log groups."
  type        = string
}

variable "lake_kms_key_arn" {
  description = "The lake's key, in the lake's region (the raw and curated buckets, alert tables and topic): what Firehose encrypts delivered objects with and fn-stream's policy names. Null: kms_key_arn (the home region)."
  type        = string
  default     = null
}

variable "stream_kms_key" {
  description = "The stream's key, when not kms_key_arn: \"alias/aws/kinesis\" in a collect region, whose producers and consumers then need no KMS grant. Null: kms_key_arn."
  type        = string
  default     = null
}

variable "lake_region" {
  description = "LAKE_REGION of fn-stream: the home region, set only in a collect region (null at home)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  type = number
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
  description = "Whether the function writes alert windows and publishes instant alerts, and the tables' and topic's ARNs."
  type = object({
    enabled           = bool
    windows_table_arn = string
    state_table_arn   = string
    topic_arn         = string
  })
}

variable "alerts_environment" {
  description = "The ALERT_* settings (applied only when alerts.enabled)."
  type        = map(string)
}

variable "vpc" {
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
}

variable "permissions_boundary" {
  description = "ARN of the deployment's permission boundary (modules/boundary): every role here carries it."
  type        = string
}
