# One function from its cargo-lambda zip: its own role (logs plus exactly the
# policy the caller passes, and the search and alert grants that go with
# those settings), its log group with retention, the function, which
# publishes a version on every change, and its `live` alias, which every
# trigger invokes. Every loglake function is deployed through this module.

locals {
  name    = "${var.name_prefix}-${var.binary}"
  alias   = "live"
  package = "${var.artifacts_dir}/${var.binary}/bootstrap.zip"
  in_vpc  = length(var.vpc.subnet_ids) > 0

  # An empty value means the same as unset to every Config::from_env, so it
  # is left out rather than sent.
  environment = {
    for k, v in merge(
      var.environment,
      var.search_enabled ? var.search_environment : {},
      var.alerts_enabled ? var.alerts_environment : {},
    ) : k => v
    if v != null && v != ""
  }
  # Lambda refuses an environment over 4 KB, measured as its JSON
  # ({"KEY":"value",...}); jsonencode escapes <, > and & as \u003c etc.,
  # which Lambda does not, so those are counted as one character again.
  environment_size = length(replace(jsonencode(local.environment), "/\\\\u00(3c|3e|26)/", "x"))
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = local.name
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:retention is var.log_retention_days (default 30): operational logs of the pipeline, whose data is kept in the lake; raise it where policy asks for a year
  name              = "/aws/lambda/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# Every permission policy comes from the templates in infra/policies (see
# its README): the base one (its logs and traces, and the network interfaces
# when in a VPC), and the function's own, to which the grants that go with
# a settings group are added when the group is on: indexing into the search
# domain, reading the alert rules, writing alert windows and publishing
# instant alerts.
resource "aws_iam_role_policy" "base" {
  name = "base"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      jsondecode(templatefile("${path.module}/../../policies/fn-base.json.tftpl", {
        log_group_arn = aws_cloudwatch_log_group.this.arn
      })).Statement,
      #checkov:skip=CKV_AWS_290:ENI actions for vpc_config, as in AWS's AWSLambdaVPCAccessExecutionRole: the function's interfaces do not exist before Lambda creates them, and DescribeNetworkInterfaces takes no resource; only when the function is in a VPC
      #checkov:skip=CKV_AWS_355:ENI actions for vpc_config, as in AWS's AWSLambdaVPCAccessExecutionRole: the function's interfaces do not exist before Lambda creates them, and DescribeNetworkInterfaces takes no resource; only when the function is in a VPC
      local.in_vpc ? jsondecode(templatefile("${path.module}/../../policies/fn-vpc.json.tftpl", {})).Statement : [],
    )
  })
}

resource "aws_iam_role_policy" "function" {
  name = "function"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      jsondecode(var.policy_json).Statement,
      var.search_enabled ? jsondecode(templatefile("${path.module}/../../policies/search-writer.json.tftpl", {
        domain_arn = var.search_domain_arn
      })).Statement : [],
      var.alerts_enabled ? jsondecode(templatefile("${path.module}/../../policies/alerts-writer.json.tftpl", {
        windows_table_arn = var.alerts_arns.windows_table_arn
        state_table_arn   = var.alerts_arns.state_table_arn
        topic_arn         = var.alerts_arns.topic_arn
        rules_object_arn  = var.alerts_arns.rules_object_arn
      })).Statement : [],
    )
  })
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:fn-ingest and fn-stream are invoked synchronously by event source mappings whose DLQ / on-failure destination (SQS) catch failures; scheduled fn-alerts runs with retries off and the next minute re-evaluates, so a missed tick has nothing to redo; fn-collect is invoked synchronously by API Gateway or its URL, whose caller gets the error and retries
  #checkov:skip=CKV_AWS_272:zips are built and planned in the same pipeline run from the reviewed commit; code signing needs a Signer profile per account, left to deployments that require it
  function_name    = local.name
  description      = var.description
  role             = aws_iam_role.this.arn
  filename         = local.package
  source_code_hash = filebase64sha256(local.package)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  memory_size      = var.memory_mb
  timeout          = var.timeout_s
  kms_key_arn      = var.kms_key_arn

  reserved_concurrent_executions = var.reserved_concurrency

  # Every change of code or configuration publishes a new version. Triggers
  # invoke the live alias (below), so a new version takes traffic only when
  # CodeDeploy shifts the alias to it (scripts/deploy-functions.py): $LATEST
  # is never invoked by anything but a person.
  publish = true

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = "Active"
  }

  # JSON logs at the level asked: Lambda sets AWS_LAMBDA_LOG_FORMAT and
  # AWS_LAMBDA_LOG_LEVEL, which the functions' subscriber follows
  # (loglake_aws::init_tracing); EMF lines are JSON either way.
  logging_config {
    log_format            = "JSON"
    application_log_level = var.log_level
    system_log_level      = "WARN"
    log_group             = aws_cloudwatch_log_group.this.name
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []
    content {
      subnet_ids         = var.vpc.subnet_ids
      security_group_ids = var.vpc.security_group_ids
    }
  }

  lifecycle {
    precondition {
      condition     = local.environment_size <= 4096
      error_message = "${local.name}: the environment is ${local.environment_size} characters as JSON, over Lambda's 4 KB limit: shorten the largest settings (the alert rules are not among them: they travel as an S3 object, ALERT_RULES_URI)."
    }
  }

  # Event source mappings check the role can read their source at creation.
  depends_on = [aws_iam_role_policy.base, aws_iam_role_policy.function, aws_cloudwatch_log_group.this]
}

# What every trigger invokes (event source mappings, schedules, the HTTP
# API, the function URL, and their permissions): created at the version the
# first apply published, then moved only by CodeDeploy, a version at a time
# with its traffic shifting and alarms watching (modules/codedeploy), or by
# hand to roll back. Terraform never moves it: a plan that publishes a new
# version leaves the alias, and so the traffic, where it is.
resource "aws_lambda_alias" "live" {
  name             = local.alias
  description      = "What every trigger invokes; moved to a new version by CodeDeploy (scripts/deploy-functions.py), never by terraform apply"
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version

  lifecycle {
    ignore_changes = [function_version, routing_config]
  }
}
