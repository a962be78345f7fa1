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

variable "kms_key_arn" {
  type = string
}

variable "repository" {
  description = "owner/name of the repository."
  type        = string
}

variable "branch" {
  type = string
}

variable "connection_arn" {
  type = string
}

variable "connection_provider" {
  type = string
}

variable "state_bucket" {
  type = string
}

variable "state_key" {
  type = string
}

variable "approval_topic_arn" {
  type = string
}

variable "log_retention_days" {
  type = number
}
