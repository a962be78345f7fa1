output "dashboard_name" {
  description = "Name of the pipeline dashboard (<prefix>-pipeline): the functions' EMF metrics beside the AWS service metrics."
  value       = aws_cloudwatch_dashboard.pipeline.dashboard_name
}

output "business_dashboard_name" {
  description = "Name of the business dashboard (<prefix>-business): records, errors, error rate and p95 latency per service."
  value       = aws_cloudwatch_dashboard.business.dashboard_name
}

output "rollback_alarm_names" {
  description = "Per function key, the alarms that stop and roll back its deployments (modules/codedeploy): errors and throttles on the live alias, its dead-letter queue's, and fn-ingest's quarantine-ratio and rows-stopped."
  value = {
    for k, names in local.rollback_alarms : k => [
      for a in names : merge(
        { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.alarm_name },
        { for key, alarm in aws_cloudwatch_metric_alarm.output : key => alarm.alarm_name },
      )[a]
    ]
  }
}

output "rollback_alarm_arns" {
  description = "The ARNs of rollback_alarm_names, per function key (CodeDeploy's role may describe these alarms only)."
  value = {
    for k, names in local.rollback_alarms : k => [
      for a in names : merge(
        { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.arn },
        { for key, alarm in aws_cloudwatch_metric_alarm.output : key => alarm.arn },
      )[a]
    ]
  }
}
