variable "name_prefix" {
  description = "Prefix of the Athena workgroup's name (<prefix>-lake)."
  type        = string
}

variable "database_name" {
  description = "Glue database name (letters, digits, underscores)."
  type        = string
}

variable "curated_bucket" {
  description = "Name of the curated bucket (the lake): the tables' locations are its logs/, quarantine/ and summary/ prefixes."
  type        = string
}

variable "athena_results_bucket" {
  description = "Name of the bucket the workgroup writes query results to, under results/."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the KMS key the workgroup encrypts query results with (SSE_KMS, enforced)."
  type        = string
}

variable "bytes_scanned_cutoff" {
  description = "Most bytes one query of the workgroup may scan before Athena cancels it (Athena's minimum is 10485760, 10 MB)."
  type        = number
}

variable "lake_start_date" {
  description = "First dt (yyyy-MM-dd) the partition projection of the logs, quarantine and summary tables covers; the range ends at NOW+1DAYS."
  type        = string
}
