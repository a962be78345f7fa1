output "dashboard_name" {
  value = aws_cloudwatch_dashboard.pipeline.dashboard_name
}

output "business_dashboard_name" {
  value = aws_cloudwatch_dashboard.business.dashboard_name
}
