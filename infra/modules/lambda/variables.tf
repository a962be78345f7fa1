variable "name_prefix" {
  description = "The deployment's prefix: the function, its role and its log group are named <prefix>-<binary>."
  type        = string
}

variable "binary" {
  description = "The workspace binary (crates/<binary>), as cargo lambda names its output directory."
  type        = string
}

variable "description" {
  description = "The function's description in the Lambda console; empty for none."
  type        = string
  default     = ""
}

variable "artifacts_dir" {
  description = "Where cargo lambda wrote <binary>/bootstrap.zip."
  type        = string
}

variable "architecture" {
  description = "Instruction set of the function, arm64 or x86_64; must match the zip (`make package` builds arm64)."
  type        = string

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_mb" {
  description = "Memory of the function, in MB (128-10240; Lambda allocates CPU in proportion)."
  type        = number
}

variable "timeout_s" {
  description = "Timeout of the function, in seconds (at most 900)."
  type        = number
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of the function; -1 (default) reserves none (the account's unreserved pool), 0 stops it."
  type        = number
  default     = -1
}

variable "environment" {
  description = "Environment variables the function's Config::from_env reads."
  type        = map(string)
}

variable "search_enabled" {
  description = "Whether the function indexes into OpenSearch: adds search_environment and the search-writer grant on search_domain_arn."
  type        = bool
  default     = false
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
  description = "Whether the function writes alert windows and publishes instant alerts: adds alerts_environment and the alerts-writer grant on alerts_arns."
  type        = bool
  default     = false
}

variable "alerts_environment" {
  description = "Variables set only when alerts_enabled (where fn-ingest and fn-stream read the alert rules, ALERT_RULES_URI, and the alert tables and topic they write to)."
  type        = map(string)
  default     = {}
}

variable "alerts_arns" {
  description = "The alert rules object the function reads, and the alert tables and topic it writes windows to and publishes instant alerts on, when alerts_enabled (infra/policies/alerts-writer.json.tftpl)."
  type = object({
    windows_table_arn = string
    state_table_arn   = string
    topic_arn         = string
    rules_object_arn  = string
  })
  default = null
}

variable "policy_json" {
  description = "The function's own permissions (besides writing its logs), a policy rendered from its template in infra/policies; the search and alert grants are added here with search_enabled and alerts_enabled."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the function's environment and its log group."
  type        = string
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the function's log group."
  type        = number
}

variable "vpc" {
  description = "Subnets and security groups to run the function in; the default (empty lists) runs it outside any VPC."
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

variable "log_level" {
  description = "The function's application log level (TRACE, DEBUG, INFO, WARN, ERROR or FATAL): Lambda passes it as AWS_LAMBDA_LOG_LEVEL and drops JSON log lines below it."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.log_level)
    error_message = "log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}
