# Safe deploys: a new function version takes traffic only through CodeDeploy.
# Every function publishes a version on each change and every trigger
# invokes its `live` alias (modules/lambda); this module owns the CodeDeploy
# application (compute platform Lambda), one deployment group per function,
# and CodeDeploy's service role. scripts/deploy-functions.py starts a
# deployment per function whose alias is behind its latest version: the
# group's deployment_config shifts traffic to it (a canary, linear steps, or
# all at once), a pre-traffic hook may prove the version first (fn-canary
# for fn-ingest), and the deployment stops and rolls back when it fails or
# one of the function's alarms fires (modules/observability).

locals {
  application = "${var.name_prefix}-functions"

  # Deployment groups are named after their functions; their ARNs are built
  # from the names (the hook's policy names the hooked groups, and the role
  # may be assumed for this application's groups only).
  group_arn = "arn:${var.partition}:codedeploy:${var.region}:${var.account_id}:deploymentgroup:${local.application}"
  hooked    = length(var.hooks) > 0
}

resource "aws_codedeploy_app" "this" {
  name             = local.application
  compute_platform = "Lambda"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["codedeploy.amazonaws.com"]
    }
    # For this application's deployment groups only (CodeDeploy user guide,
    # "Cross-service confused deputy prevention").
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["${local.group_arn}/*"]
    }
  }
}

# CodeDeploy's service role: it moves the live aliases, reads the
# rollback alarms and invokes the pre-traffic hooks, nothing else. Its
# policy is a template (infra/policies/codedeploy.json.tftpl) rather than
# AWS's AWSCodeDeployRoleForLambda managed policies, which grant those
# actions on every function and alarm of the account.
resource "aws_iam_role" "this" {
  name                 = "${var.name_prefix}-codedeploy"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary
}

resource "aws_iam_role_policy" "this" {
  name = "deploy"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      jsondecode(templatefile("${path.module}/../../policies/codedeploy.json.tftpl", {
        alias_resources = jsonencode(flatten([for f in values(var.functions) : [f.arn, "${f.arn}:${f.alias}"]]))
        qualified_arns  = jsonencode([for f in values(var.functions) : "${f.arn}:*"])
        alarm_arns      = jsonencode(distinct(flatten([for f in values(var.functions) : f.alarm_arns])))
      })).Statement,
      local.hooked ? jsondecode(templatefile("${path.module}/../../policies/codedeploy-hooks.json.tftpl", {
        hook_function_arns = jsonencode(distinct([for h in values(var.hooks) : h.arn]))
      })).Statement : [],
    )
  })
}

# One group per function. BLUE_GREEN with traffic control is how CodeDeploy
# deploys Lambda: the alias's weights move from the current version to the
# target as deployment_config says. A failed deployment, or one stopped by
# an alarm, moves the alias back to where it was.
resource "aws_codedeploy_deployment_group" "this" {
  for_each = var.functions

  app_name               = aws_codedeploy_app.this.name
  deployment_group_name  = each.value.name
  service_role_arn       = aws_iam_role.this.arn
  deployment_config_name = var.deployment_config

  deployment_style {
    deployment_type   = "BLUE_GREEN"
    deployment_option = "WITH_TRAFFIC_CONTROL"
  }

  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
  }

  # CodeDeploy watches these during the deployment, and starts none while
  # one of them fires: empty a dead-letter queue before deploying.
  alarm_configuration {
    enabled = true
    alarms  = each.value.alarm_names
  }

  # The role's policy must exist before CodeDeploy first assumes it.
  depends_on = [aws_iam_role_policy.this]
}
