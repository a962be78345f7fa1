output "dashboard_name" {
  description = "Name of the pipeline dashboard (<prefix>-pipeline): the functions' EMF metrics beside the AWS service metrics."
  value       = aws_cloudwatch_dashboard.pipeline.dashboard_name
}

output "business_dashboard_name" {
  description = "Name of the business dashboard (<prefix>-business): records, errors, error rate and p95 latency per service."
  value       = aws_cloudwatch_dashboard.business.dashboard_name
}
