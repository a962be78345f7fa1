variable "name_prefix" {
  description = "Prefix of every name here: the stream <prefix>-logs, the Firehose <prefix>-raw, its role <prefix>-firehose, the queue <prefix>-stream-failures, the function <prefix>-fn-stream."
  type        = string
}

variable "account_id" {
  description = "AWS account ID: the Firehose role's trust policy requires it as external ID."
  type        = string
}

variable "region" {
  description = "Region of the stream, Firehose and fn-stream."
  type        = string
}

variable "partition" {
  description = "AWS partition of the ARNs (aws, aws-cn, aws-us-gov), from data.aws_partition."
  type        = string
}

variable "artifacts_dir" {
  description = "Directory cargo lambda wrote the zips to; fn-stream is deployed from <artifacts_dir>/fn-stream/bootstrap.zip."
  type        = string
}

variable "architecture" {
  description = "Instruction set of the function, arm64 or x86_64; must match the zip (`make package` builds arm64). Validated by modules/lambda."
  type        = string
}

variable "memory_mb" {
  description = "Memory of fn-stream, in MB."
  type        = number
}

variable "timeout_s" {
  description = "Timeout of fn-stream, in seconds."
  type        = number
}

variable "batch_size" {
  description = "Kinesis records per fn-stream invocation."
  type        = number
}

variable "batching_window_s" {
  description = "Seconds the Kinesis event source waits to fill a batch."
  type        = number
}

variable "parallelization_factor" {
  description = "Concurrent fn-stream invocations per shard (1-10)."
  type        = number
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
  description = "Reserved concurrency of fn-stream; -1 reserves none (the account's unreserved pool)."
  type        = number
}

variable "redact" {
  description = "REDACT of fn-stream: the PII kinds masked before any sink, comma-separated (cards, emails, ips, secrets, all or none); empty turns redaction off. Validated by the root's redact."
  type        = string
}

variable "stream_mode" {
  description = "Capacity mode of the Kinesis stream: ON_DEMAND, or PROVISIONED with shard_count shards."
  type        = string

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "shard_count" {
  description = "Shards of the stream when stream_mode is PROVISIONED; ignored when ON_DEMAND."
  type        = number
}

variable "retention_hours" {
  description = "Hours the stream keeps records (24-8760)."
  type        = number
}

variable "firehose_buffer_size_mb" {
  description = "MB Firehose buffers before writing a gzip object to the raw bucket (1-128)."
  type        = number
}

variable "firehose_buffer_s" {
  description = "Seconds Firehose buffers before writing, whichever of size or time comes first (0-900)."
  type        = number
}

variable "raw_bucket_arn" {
  description = "ARN of the raw bucket Firehose delivers to under firehose/ (the home region's, also from a collect region)."
  type        = string
}

variable "curated_bucket" {
  description = "Name of the curated bucket: CURATED_BUCKET of fn-stream (quarantine/, stream-dlq/ and stream-progress/ notes)."
  type        = string
}

variable "curated_bucket_arn" {
  description = "ARN of the curated bucket, for fn-stream's policy."
  type        = string
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
  description = "Days CloudWatch Logs keeps fn-stream's and Firehose's log groups."
  type        = number
}

variable "search" {
  description = "Whether fn-stream indexes into OpenSearch, and the domain's ARN (null when off)."
  type = object({
    enabled    = bool
    domain_arn = string
  })
}

variable "search_environment" {
  description = "The SEARCH_* settings (SEARCH_ENDPOINT, SEARCH_AUTH, SEARCH_SERVICE, SEARCH_INDEX_PREFIX, SEARCH_MIN_LEVEL), applied only when search.enabled."
  type        = map(string)
}

variable "alerts" {
  description = "Whether the function evaluates the alert rules (writes alert windows and publishes instant alerts), and the ARNs of the rules object, the tables and the topic."
  type = object({
    enabled           = bool
    windows_table_arn = string
    state_table_arn   = string
    topic_arn         = string
    rules_object_arn  = string
  })
}

variable "alerts_environment" {
  description = "The ALERT_* settings (applied only when alerts.enabled)."
  type        = map(string)
}

variable "vpc" {
  description = "Subnets and security groups to run fn-stream in (a VPC search domain's); empty lists run it outside any VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
}

variable "permissions_boundary" {
  description = "ARN of the deployment's permission boundary (modules/boundary): every role here carries it."
  type        = string
}
