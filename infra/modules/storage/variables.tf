variable "name_prefix" {
  description = "Prefix of the buckets' names: <prefix>-<raw|curated|athena|access-logs>-<account>-<region>."
  type        = string
}

variable "account_id" {
  description = "AWS account ID, part of every bucket's name (bucket names are global)."
  type        = string
}

variable "region" {
  description = "Region of the buckets, part of every bucket's name."
  type        = string
}

variable "encryption" {
  description = "Default encryption of the raw, curated and Athena-results buckets: SSE-KMS (kms_key_arn, with S3 bucket keys) or SSE-S3 (AES256). The access-log bucket is always SSE-S3."
  type        = string

  validation {
    condition     = contains(["SSE-KMS", "SSE-S3"], var.encryption)
    error_message = "encryption must be SSE-KMS or SSE-S3."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key the buckets use when encryption is SSE-KMS."
  type        = string
}

variable "raw_retention_days" {
  description = "Days raw objects (and overwritten versions of them) are kept before they expire."
  type        = number
}

variable "quarantine_retention_days" {
  description = "Days quarantine/ and search-dlq/ objects in the curated bucket, and server access logs, are kept."
  type        = number
}

variable "curated_noncurrent_days" {
  description = "Days overwritten (noncurrent) versions of curated objects are kept."
  type        = number
}

variable "athena_results_retention_days" {
  description = "Days Athena query results are kept."
  type        = number
}
