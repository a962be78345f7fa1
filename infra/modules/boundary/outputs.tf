output "arn" {
  description = "The boundary every role of the deployment carries (permissions_boundary)."
  value       = aws_iam_policy.this.arn
}

output "name" {
  description = "Name of the boundary policy (<prefix>-boundary)."
  value       = aws_iam_policy.this.name
}

output "managed_resources" {
  description = "ARNs (patterns) of everything the deployment manages: its resources named with the prefix and its keys."
  value       = local.managed_resources
}
