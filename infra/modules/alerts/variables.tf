variable "name_prefix" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "alert_email" {
  description = "Subscribed by e-mail when not empty."
  type        = string
  default     = ""
}
