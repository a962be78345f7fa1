variable "name_prefix" {
  description = "Prefix of every name here: the topic <prefix>-alerts, the tables <prefix>-alert-windows and <prefix>-alert-state, the function <prefix>-fn-alerts and its schedule."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the topic, both DynamoDB tables, the rules object in the curated bucket and fn-alerts' environment and log group (the deployment's data key, or a collect region's key)."
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

variable "rules_path" {
  description = "Path of the alert rules TOML (the root's alert_rules_path, default ../alerts.toml); uploaded to the curated bucket at _config/alerts.toml, which fn-alerts, fn-ingest and fn-stream read through ALERT_RULES_URI and re-read within ALERT_RULES_REFRESH_S (60 s) of a change, up to 1 MiB. Required when enabled; null otherwise."
  type        = string
  default     = null

  validation {
    condition     = var.rules_path == null || try(fileexists(var.rules_path), false)
    error_message = "rules_path must name an existing alert rules file (or be null when alerts are not enabled)."
  }
}

variable "athena_database" {
  description = "The Glue database of the lake, named in the Athena query each notification carries (ALERT_ATHENA_DATABASE)."
  type        = string
}

variable "curated_bucket" {
  description = "The lake's bucket: the rules file is uploaded to _config/alerts.toml there (ALERT_RULES_URI), and fn-alerts writes the per-minute summary of each closed hour under summary/ (SUMMARY_BUCKET)."
  type        = string
}

variable "curated_bucket_arn" {
  description = "ARN of the curated bucket; fn-alerts may read the rules object _config/alerts.toml and put objects under summary/ only."
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
