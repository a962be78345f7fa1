output "endpoint_url" {
  description = "https URL of the domain (SEARCH_ENDPOINT)."
  value       = "https://${aws_opensearch_domain.this.endpoint}"
}

output "domain_arn" {
  value = aws_opensearch_domain.this.arn
}

output "dashboards_url" {
  value = "https://${aws_opensearch_domain.this.dashboard_endpoint}"
}

output "client_security_group_id" {
  description = "Security group for the functions when the domain is in a VPC (null otherwise)."
  value       = one(aws_security_group.client[*].id)
}
