variable "index_template_path" {
  description = "The composable index template (JSON) from the repository."
  type        = string
}

variable "ism_policy_path" {
  description = "The ISM policy template; placeholders $${delete_after_days}, $${hot_actions} and $${index_patterns}."
  type        = string
}

variable "index_prefix" {
  description = "Prefix of the daily indices (<prefix>YYYY.MM.DD, e.g. logs-): the template's and ISM policy's pattern is <prefix>*, and their name loglake-<prefix without trailing separators>."
  type        = string
}

variable "delete_after_days" {
  description = "Days after which the ISM policy deletes an index."
  type        = number
}

variable "writer_role_arns" {
  description = "IAM role ARNs mapped to the loglake_writer role inside the domain: the functions that index (fn-ingest, fn-stream, the collect regions' fn-stream)."
  type        = list(string)
}
