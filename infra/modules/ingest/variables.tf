variable "name_prefix" {
  description = "Prefix of every name here: the queues <prefix>-ingest and <prefix>-ingest-dlq, the function <prefix>-fn-ingest."
  type        = string
}

variable "artifacts_dir" {
  description = "Directory cargo lambda wrote the zips to; the function is deployed from <artifacts_dir>/fn-ingest/bootstrap.zip."
  type        = string
}

variable "architecture" {
  description = "Instruction set of the function, arm64 or x86_64; must match the zip (`make package` builds arm64). Validated by modules/lambda."
  type        = string
}

variable "memory_mb" {
  description = "Memory of fn-ingest, in MB (Lambda allocates CPU in proportion: 2048 MB is about 1.2 vCPU)."
  type        = number
}

variable "timeout_s" {
  description = "Timeout of fn-ingest, in seconds; the queue's visibility timeout is six times this."
  type        = number
}

variable "batch_size" {
  description = "SQS messages (objects) per fn-ingest invocation."
  type        = number
}

variable "max_concurrency" {
  description = "Most concurrent fn-ingest invocations the SQS event source starts (2-1000)."
  type        = number
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of the function; -1 reserves none (the account's unreserved pool)."
  type        = number
}

variable "memory_budget_mb" {
  description = "MEMORY_BUDGET_MB of fn-ingest: megabytes of rows it buffers across open partitions before flushing."
  type        = number
}

variable "format_by_prefix" {
  description = "FORMAT_BY_PREFIX of fn-ingest: prefix=format pairs, comma-separated (e.g. \"alb/=alb,cloudfront/=cloudfront\"); empty sniffs every object's format. Validated by the root's format_by_prefix."
  type        = string
}

variable "formats_path" {
  description = "A formats.toml to upload to the curated bucket at _config/formats.toml for fn-ingest (FORMATS_URI); null for none."
  type        = string
  default     = null
}

variable "redact" {
  description = "REDACT of the function: the PII kinds masked before any sink, comma-separated (cards, emails, ips, secrets, all or none); empty turns redaction off. Validated by the root's redact."
  type        = string
}

variable "aws_log_sources" {
  description = "Buckets AWS services write their logs to, ingested read-only (the root's aws_log_sources, validated there): bucket, key prefix, format (appended to FORMAT_BY_PREFIX as s3://<bucket>/<prefix>=<format>), kms_key_arn of SSE-KMS objects (or null), and notify: whether an aws_s3_bucket_notification here sends the bucket's ObjectCreated events under the prefix to the queue, which REPLACES the bucket's existing notification configuration. The queue accepts every listed bucket's events either way."
  type = list(object({
    bucket      = string
    prefix      = optional(string, "")
    format      = string
    kms_key_arn = optional(string)
    notify      = optional(bool, true)
  }))
  default  = []
  nullable = false
}

variable "partition" {
  description = "AWS partition of the ARNs (aws, aws-cn, aws-us-gov), from data.aws_partition: the AWS log sources' bucket ARNs."
  type        = string
}

variable "region" {
  description = "Region of the deployment (and of the AWS log sources' buckets): fn-ingest may use their KMS keys through S3 of this region only."
  type        = string
}

variable "raw_bucket" {
  description = "Name of the raw bucket whose ObjectCreated notifications feed the queue."
  type        = string
}

variable "raw_bucket_arn" {
  description = "ARN of the raw bucket: it (and the AWS log sources' buckets) may send to the queue, and fn-ingest reads it."
  type        = string
}

variable "curated_bucket" {
  description = "Name of the curated bucket fn-ingest writes the lake to (CURATED_BUCKET)."
  type        = string
}

variable "curated_bucket_arn" {
  description = "ARN of the curated bucket, for fn-ingest's policy."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the data key: the buckets' objects, fn-ingest's environment and log group (and the alert tables and topic it writes to)."
  type        = string
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps fn-ingest's log group."
  type        = number
}

variable "search" {
  description = "Whether the function indexes into OpenSearch, and the domain's ARN."
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
  description = "Subnets and security groups to run fn-ingest in (a VPC search domain's); empty lists run it outside any VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
}

variable "permissions_boundary" {
  description = "ARN of the deployment's permission boundary (modules/boundary): every role here carries it."
  type        = string
}

variable "hook_deployment_group_arns" {
  description = "ARNs of the CodeDeploy deployment groups whose deployments run fn-canary as their pre-traffic hook (fn-ingest's, modules/codedeploy): fn-canary may read their deployments and report its hook there, nowhere else."
  type        = list(string)
  default     = []
}
