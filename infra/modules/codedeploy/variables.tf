variable "name_prefix" {
  description = "Prefix of every name here: the application <prefix>-functions, its role <prefix>-codedeploy (in a collect region the prefix carries the region)."
  type        = string
}

variable "partition" {
  description = "AWS partition of the ARNs (aws, aws-cn, aws-us-gov), from data.aws_partition."
  type        = string
}

variable "account_id" {
  description = "AWS account ID: the deployment groups' ARNs, and the role's trust policy (aws:SourceAccount)."
  type        = string
}

variable "region" {
  description = "Region of the application and of the functions it deploys."
  type        = string
}

variable "functions" {
  description = "The functions to deploy, by a static key (ingest, stream, ...): name (the deployment group is named after it), unqualified arn, the alias every trigger invokes (live), and the names and ARNs of the alarms that stop and roll back its deployments (modules/observability's rollback alarms)."
  type = map(object({
    name        = string
    arn         = string
    alias       = string
    alarm_names = list(string)
    alarm_arns  = list(string)
  }))
}

variable "hooks" {
  description = "Pre-traffic hooks by function key: the function CodeDeploy runs (BeforeAllowTraffic) before the first request reaches a new version of that key's function (fn-canary for ingest), by name and unqualified ARN; the role may invoke these only."
  type = map(object({
    name = string
    arn  = string
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.hooks) : contains(keys(var.functions), k)])
    error_message = "hooks: every key must be a key of functions."
  }
}

variable "deployment_config" {
  description = "How CodeDeploy shifts traffic to a new version: one of AWS's predefined Lambda configurations (the root's deployment_config, validated there)."
  type        = string
}

variable "permissions_boundary" {
  description = "ARN of the deployment's permission boundary (modules/boundary), which CodeDeploy's role carries."
  type        = string
}
