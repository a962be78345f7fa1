variable "name_prefix" {
  description = "The deployment's prefix: the pipeline is <prefix>-pipeline, its CodeBuild projects, roles, log groups and artifact bucket start with it."
  type        = string
}

variable "account_id" {
  description = "AWS account ID the pipeline deploys into; scopes its roles' trust policies and the artifact bucket's name."
  type        = string
}

variable "region" {
  description = "Region of the pipeline and of the deployment it applies."
  type        = string
}

variable "partition" {
  description = "AWS partition of the ARNs (aws, aws-cn, aws-us-gov), from data.aws_partition."
  type        = string
}

variable "pipeline_key_arn" {
  description = "The pipeline's own key (artifacts, the CodeBuild projects and their logs); the build and plan roles get no grant on the data key."
  type        = string
}

variable "data_key_arn" {
  description = "The deployment's data key: the plan stage may decrypt with it only through Lambda (the functions' environment), the pipeline only through SNS (the approval notice on the encrypted alerts topic)."
  type        = string
}

variable "config_objects_arn" {
  description = "ARN pattern of the configuration objects Terraform uploads into the lake (<curated bucket ARN>/_config/*: the alert rules): the plan and deploy stages may read them back, every other object of the data buckets stays denied."
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
  description = "The repository the pipeline builds, as owner/name (e.g. my-org/loglake); required (a precondition checks it at plan)."
  type        = string
}

variable "branch" {
  description = "Branch of repository whose pushes start the pipeline."
  type        = string
}

variable "connection_arn" {
  description = "ARN of an existing CodeStar/CodeConnections connection to the repository's host; empty creates one here (PENDING until its handshake is completed once in the console)."
  type        = string
}

variable "connection_provider" {
  description = "Host of the connection created when connection_arn is empty: GitHub, GitLab or Bitbucket."
  type        = string

  validation {
    condition     = contains(["GitHub", "GitLab", "Bitbucket"], var.connection_provider)
    error_message = "connection_provider must be GitHub, GitLab or Bitbucket."
  }
}

variable "state_bucket" {
  description = "S3 bucket of the deployment's Terraform state (backend.tf): the plan and deploy stages read and write it; required."
  type        = string
}

variable "state_key" {
  description = "Key of the state object in state_bucket (its lock file is <key>.tflock)."
  type        = string
}

variable "approval_topic_arn" {
  description = "ARN of the SNS topic the manual approval step notifies (the alerts topic, encrypted with the data key)."
  type        = string
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the build, plan and deploy log groups (the root's log_retention_days)."
  type        = number
}

variable "deploy_application_arn" {
  description = "ARN of the CodeDeploy application of the home region (modules/codedeploy): the release role registers and reads its revisions."
  type        = string
}

variable "deploy_group_arns" {
  description = "ARNs of its deployment groups (modules/codedeploy): the release role creates and follows deployments of these only."
  type        = list(string)
}

variable "deploy_function_arns" {
  description = "Unqualified ARNs of the functions CodeDeploy deploys: the release role reads their live alias and their versions."
  type        = list(string)
}

variable "deployment_config" {
  description = "The predefined CodeDeploy configuration of the deployment groups (the root's deployment_config): the release role may read it."
  type        = string
}
