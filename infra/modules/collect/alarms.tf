# The collector's own alarm: the share of requests answered with a 5xx
# (fn-collect failing or timing out, Kinesis refusing the records) over 5
# minutes, from the API's 5xx and Count metrics (AWS/ApiGateway, ApiId and
# Stage). fn-collect's errors and throttles are watched with the other
# functions' (modules/observability); 4xx are the senders' to fix.

resource "aws_cloudwatch_metric_alarm" "server_errors" {
  alarm_name          = "${local.name}-5xx-rate"
  alarm_description   = "${local.name} answered more than ${var.error_rate_alarm_pct}% of requests with a 5xx for 5 minutes: see fn-collect's log group and the access log ${aws_cloudwatch_log_group.access.name}"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_alarm_pct
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * errors / requests, 0)"
    label       = "5xx, % of requests"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "5xx"
      stat        = "Sum"
      period      = 300
      dimensions = {
        ApiId = aws_apigatewayv2_api.this.id
        Stage = aws_apigatewayv2_stage.default.name
      }
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "Count"
      stat        = "Sum"
      period      = 300
      dimensions = {
        ApiId = aws_apigatewayv2_api.this.id
        Stage = aws_apigatewayv2_stage.default.name
      }
    }
  }
}
