variable "name_prefix" {
  type = string
}

variable "account_id" {
  type = string
}

variable "region" {
  type = string
}

variable "encryption" {
  description = "SSE-KMS or SSE-S3."
  type        = string
}

variable "kms_key_arn" {
  type = string
}

variable "raw_retention_days" {
  type = number
}

variable "quarantine_retention_days" {
  type = number
}

variable "curated_noncurrent_days" {
  type = number
}

variable "athena_results_retention_days" {
  type = number
}
