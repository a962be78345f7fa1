output "ism_policy_id" {
  value = opensearch_ism_policy.logs.policy_id
}

output "index_template" {
  value = opensearch_index_template.logs.name
}
