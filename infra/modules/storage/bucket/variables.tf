variable "name" {
  description = "The bucket's name (globally unique)."
  type        = string
}

variable "account_id" {
  description = "AWS account ID: S3 server access logging may write into the bucket only for this account (with receives_access_logs)."
  type        = string
}

variable "kms_key_arn" {
  description = "SSE-KMS with this key; null for SSE-S3."
  type        = string
  default     = null
}

variable "versioning" {
  description = "Enable versioning; false leaves it suspended."
  type        = bool
  default     = false
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
  description = "Let terraform destroy delete the bucket with its objects; false refuses while it holds any."
  type        = bool
  default     = false
}
