variable "name_prefix" {
  type = string
}

variable "database_name" {
  description = "Glue database name (letters, digits, underscores)."
  type        = string
}

variable "curated_bucket" {
  type = string
}

variable "athena_results_bucket" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "bytes_scanned_cutoff" {
  type = number
}

variable "lake_start_date" {
  type = string
}
