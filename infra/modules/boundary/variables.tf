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

variable "extra_regions" {
  description = "The collect regions (the root's collect_regions): regions besides var.region with resources of the deployment."
  type        = list(string)
  default     = []
}

variable "key_arns" {
  description = "The deployment's keys (the data key, with CI/CD the pipeline key, the keys of the collect regions' streams): the only keys any of its roles may use or manage."
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
