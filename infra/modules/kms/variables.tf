variable "name_prefix" {
  description = "Names the key: its alias is alias/<name_prefix> and its description starts with it."
  type        = string
}

variable "account_id" {
  description = "AWS account ID whose root administers the key through IAM (the key policy's first statement)."
  type        = string
}

variable "region" {
  description = "Region of the key; CloudWatch Logs of this region may use it for the account's log groups."
  type        = string
}

variable "partition" {
  description = "AWS partition of the ARNs (aws, aws-cn, aws-us-gov), from data.aws_partition."
  type        = string
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
