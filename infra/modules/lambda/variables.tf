variable "name_prefix" {
  type = string
}

variable "binary" {
  description = "The workspace binary (crates/<binary>), as cargo lambda names its output directory."
  type        = string
}

variable "description" {
  type    = string
  default = ""
}

variable "artifacts_dir" {
  description = "Where cargo lambda wrote <binary>/bootstrap.zip."
  type        = string
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

variable "reserved_concurrency" {
  type    = number
  default = -1
}

variable "environment" {
  description = "Environment variables the function's Config::from_env reads."
  type        = map(string)
}

variable "search_enabled" {
  type    = bool
  default = false
}

variable "search_environment" {
  description = "Variables set only when search_enabled (the OpenSearch sink's settings)."
  type        = map(string)
  default     = {}
}

variable "alerts_enabled" {
  type    = bool
  default = false
}

variable "alerts_environment" {
  description = "Variables set only when alerts_enabled (the alert tables, topic and rules fn-ingest and fn-stream write to)."
  type        = map(string)
  default     = {}
}

variable "policy_json" {
  description = "The function's own permissions (besides writing its logs)."
  type        = string
}

variable "kms_key_arn" {
  type = string
}

variable "log_retention_days" {
  type = number
}

variable "vpc" {
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = {
    subnet_ids         = []
    security_group_ids = []
  }
}
