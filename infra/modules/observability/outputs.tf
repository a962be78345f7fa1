output "dashboard_name" {
  value = aws_cloudwatch_dashboard.pipeline.dashboard_name
}
