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

variable "pipeline_key_arn" {
  description = "The pipeline's own key (artifacts, the CodeBuild projects and their logs); the build and plan roles get no grant on the data key."
  type        = string
}

variable "data_key_arn" {
  description = "The deployment's data key: the plan stage may decrypt with it only through Lambda (the functions' environment), the pipeline only through SNS (the approval notice on the encrypted alerts topic)."
  type        = string
}

variable "managed_resources" {
  description = "What the deployment manages (modules/boundary): the plan reads them, the deploy stage changes them."
  type        = list(string)
}

variable "permissions_boundary" {
  description = "ARN of the deployment's permission boundary (modules/boundary): every role here carries it, and the deploy stage may create roles and change their policies only with it."
  type        = string
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
