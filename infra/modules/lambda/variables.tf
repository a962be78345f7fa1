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

variable "search_domain_arn" {
  description = "The domain the function indexes into when search_enabled (infra/policies/search-writer.json.tftpl)."
  type        = string
  default     = null
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

variable "alerts_arns" {
  description = "The alert tables and topic the function writes windows to and publishes instant alerts on when alerts_enabled (infra/policies/alerts-writer.json.tftpl)."
  type = object({
    windows_table_arn = string
    state_table_arn   = string
    topic_arn         = string
  })
  default = null
}

variable "policy_json" {
  description = "The function's own permissions (besides writing its logs), a policy rendered from its template in infra/policies; the search and alert grants are added here with search_enabled and alerts_enabled."
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

variable "permissions_boundary" {
  description = "ARN of the deployment's permission boundary (modules/boundary), which the function's role carries."
  type        = string
}
