variable "name_prefix" {
  description = "The deployment's prefix: the boundary is <prefix>-boundary and allows the services only on resources named <prefix>-*."
  type        = string
}

variable "account_id" {
  description = "AWS account ID the deployment lives in; every ARN pattern of the boundary names it."
  type        = string
}

variable "region" {
  description = "The home region; the boundary's ARN patterns name it (or * when extra_regions is not empty)."
  type        = string
}

variable "partition" {
  description = "AWS partition of the ARNs (aws, aws-cn, aws-us-gov), from data.aws_partition."
  type        = string
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

variable "aws_log_sources" {
  description = "The buckets AWS services write their logs to that fn-ingest reads (the root's aws_log_sources): the boundary allows reading each bucket's objects under its prefix, listing the bucket and decrypting with kms_key_arn, nothing more."
  type = list(object({
    bucket      = string
    prefix      = optional(string, "")
    kms_key_arn = optional(string)
  }))
  default  = []
  nullable = false
}
