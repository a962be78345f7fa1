output "endpoint_url" {
  description = "https URL of the domain (SEARCH_ENDPOINT)."
  value       = "https://${aws_opensearch_domain.this.endpoint}"
}

output "domain_arn" {
  description = "ARN of the domain, for the writers' es:ESHttp* grant."
  value       = aws_opensearch_domain.this.arn
}

output "dashboards_url" {
  description = "https URL of the domain's OpenSearch Dashboards."
  value       = "https://${aws_opensearch_domain.this.dashboard_endpoint}"
}

output "client_security_group_id" {
  description = "Security group for the functions when the domain is in a VPC (null otherwise)."
  value       = one(aws_security_group.client[*].id)
}
