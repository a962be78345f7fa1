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

variable "key_arns" {
  description = "The deployment's customer managed keys (the data key and, with CI/CD, the pipeline key): the only keys any of its roles may use or manage."
  type        = list(string)
}

variable "state_bucket" {
  description = "The S3 bucket of the Terraform state the pipeline plans and applies against (empty without CI/CD)."
  type        = string
  default     = ""
}

variable "state_key" {
  description = "Key of the state object in state_bucket."
  type        = string
  default     = ""
}
