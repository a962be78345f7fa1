variable "name_prefix" {
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

variable "max_concurrency" {
  type = number
}

variable "reserved_concurrency" {
  type = number
}

variable "memory_budget_mb" {
  type = number
}

variable "format_by_prefix" {
  type = string
}

variable "redact" {
  type = string
}

variable "raw_bucket" {
  type = string
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
  type = string
}

variable "log_retention_days" {
  type = number
}

variable "search" {
  description = "Whether the function indexes into OpenSearch, and the domain's ARN."
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
