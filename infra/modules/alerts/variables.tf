variable "name_prefix" {
  description = "Prefix of every name here: the topic <prefix>-alerts, the tables <prefix>-alert-windows and <prefix>-alert-state, the function <prefix>-fn-alerts and its schedule."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the topic, both DynamoDB tables and fn-alerts' environment and log group (the deployment's data key, or a collect region's key)."
  type        = string
}

variable "alert_email" {
  description = "Subscribed by e-mail when not empty."
  type        = string
  default     = ""
}

variable "enabled" {
  description = "Create the content-alert tables, fn-alerts and its schedule (the topic is always created)."
  type        = bool
  default     = true
}

variable "rules" {
  description = "The alert rules TOML, inlined as ALERT_RULES (null when not enabled). Lambda caps a function's whole environment at 4 KB, and fn-ingest/fn-stream carry the rules beside their own settings, so the text must stay under 3500 characters."
  type        = string
  default     = null

  validation {
    condition     = var.rules == null || try(length(var.rules) > 0 && length(var.rules) < 3500, false)
    error_message = "The alert rules must be non-empty and under 3500 characters: Lambda limits a function's environment to 4 KB in total, and the rules are passed inline as ALERT_RULES."
  }
}

variable "athena_database" {
  description = "The Glue database of the lake, named in the Athena query each notification carries (ALERT_ATHENA_DATABASE)."
  type        = string
}

variable "curated_bucket" {
  description = "The lake's bucket: fn-alerts writes the per-minute summary of each closed hour under summary/ (SUMMARY_BUCKET)."
  type        = string
}

variable "curated_bucket_arn" {
  description = "ARN of the curated bucket; fn-alerts may put objects under summary/ only."
  type        = string
}

variable "deletion_protection" {
  description = "Deletion protection of the two alert tables."
  type        = bool
  default     = true
}

variable "artifacts_dir" {
  description = "Where cargo lambda wrote fn-alerts/bootstrap.zip."
  type        = string
}

variable "architecture" {
  description = "Instruction set of the function, arm64 or x86_64; must match the zip (`make package` builds arm64). Validated by modules/lambda."
  type        = string
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps fn-alerts' log group (the root's log_retention_days)."
  type        = number
}

variable "permissions_boundary" {
  description = "ARN of the deployment's permission boundary (modules/boundary): every role here carries it."
  type        = string
}
