variable "name" {
  type = string
}

variable "account_id" {
  type = string
}

variable "kms_key_arn" {
  description = "SSE-KMS with this key; null for SSE-S3."
  type        = string
  default     = null
}

variable "versioning" {
  type    = bool
  default = false
}

variable "access_log_bucket" {
  description = "Bucket receiving this bucket's server access logs (null: none)."
  type        = string
  default     = null
}

variable "receives_access_logs" {
  description = "Let S3 server access logging write into this bucket."
  type        = bool
  default     = false
}

variable "force_destroy" {
  type    = bool
  default = false
}
