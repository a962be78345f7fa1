output "ism_policy_id" {
  description = "ID of the ISM policy applied to the daily indices."
  value       = opensearch_ism_policy.logs.policy_id
}

output "index_template" {
  description = "Name of the composable index template."
  value       = opensearch_index_template.logs.name
}
