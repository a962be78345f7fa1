variable "name_prefix" {
  type = string
}

variable "account_id" {
  type = string
}

variable "region" {
  type = string
}

variable "partition" {
  type = string
}

variable "purpose" {
  description = "What the key encrypts, for its description."
  type        = string
  default     = "loglake data, topics, logs and artifacts"
}

variable "alarm_topics" {
  description = "Let CloudWatch alarms publish to topics encrypted with this key."
  type        = bool
  default     = true
}
