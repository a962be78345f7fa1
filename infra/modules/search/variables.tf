variable "name_prefix" {
  description = "Prefix of the domain's name (<prefix>-search; OpenSearch allows 28 characters), its log groups and security groups."
  type        = string
}

variable "account_id" {
  description = "AWS account ID: the domain's access policy lets this account's signed principals send requests."
  type        = string
}

variable "region" {
  description = "Region of the domain."
  type        = string
}

variable "partition" {
  description = "AWS partition of the ARNs (aws, aws-cn, aws-us-gov), from data.aws_partition."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the KMS key for encryption at rest and the domain's log groups."
  type        = string
}

variable "engine_version" {
  description = "Engine version of the domain, as OpenSearch Service names it (e.g. OpenSearch_2.19)."
  type        = string
}

variable "instance_type" {
  description = "Instance type of the data nodes (e.g. m6g.large.search)."
  type        = string
}

variable "instance_count" {
  description = "Number of data nodes; 2 or more spreads them over two availability zones."
  type        = number
}

variable "volume_gb" {
  description = "Size of each data node's gp3 EBS volume, in GB."
  type        = number
}

variable "subnet_ids" {
  description = "Subnets to place the domain in a VPC (one per zone used); empty gives a public endpoint guarded by IAM and fine-grained access control."
  type        = list(string)
}

variable "allowed_cidrs" {
  description = "CIDR blocks allowed to reach a VPC domain on port 443, besides the functions' security group; unused without subnet_ids."
  type        = list(string)
}

variable "master_user_arn" {
  description = "IAM role or user ARN that becomes the fine-grained access control master user; required (a precondition checks it is an ARN)."
  type        = string
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the domain's slow, application and audit logs."
  type        = number
}
