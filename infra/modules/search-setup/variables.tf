variable "index_template_path" {
  description = "The composable index template (JSON) from the repository."
  type        = string
}

variable "ism_policy_path" {
  description = "The ISM policy template; placeholders $${delete_after_days}, $${hot_actions} and $${index_patterns}."
  type        = string
}

variable "index_prefix" {
  type = string
}

variable "delete_after_days" {
  type = number
}

variable "writer_role_arns" {
  type = list(string)
}
