# The HTTP API in front of fn-collect: two routes, each authorized as
# var.auth says (IAM SigV4, a JWT, or nobody), throttled on the $default
# stage, every request in a JSON access log, CORS answered by API Gateway
# itself (preflight OPTIONS included, so there is no OPTIONS route), and an
# optional custom domain.

locals {
  # Static keys (known at plan) for the routes and their permissions.
  routes = {
    events  = { method = "POST", path = "/v1/events" }
    healthz = { method = "GET", path = "/healthz" }
  }

  authorization_type = {
    iam  = "AWS_IAM"
    jwt  = "JWT"
    none = "NONE"
  }[var.auth]

  # One JSON object per request: who, what, the answer and how long
  # fn-collect took ($context variables of HTTP APIs).
  access_log_format = {
    requestId          = "$context.requestId"
    ip                 = "$context.identity.sourceIp"
    requestTime        = "$context.requestTime"
    httpMethod         = "$context.httpMethod"
    routeKey           = "$context.routeKey"
    status             = "$context.status"
    protocol           = "$context.protocol"
    responseLength     = "$context.responseLength"
    integrationError   = "$context.integrationErrorMessage"
    integrationLatency = "$context.integrationLatency"
  }
}

resource "aws_apigatewayv2_api" "this" {
  name          = local.name
  description   = "loglake: the HTTP event collector (POST /v1/events, GET /healthz) in front of fn-collect"
  protocol_type = "HTTP"

  # Only for the origins given: without them browsers are refused and
  # server-side senders are unaffected.
  dynamic "cors_configuration" {
    for_each = length(var.allowed_origins) > 0 ? [1] : []
    content {
      allow_origins = var.allowed_origins
      allow_methods = ["GET", "OPTIONS", "POST"]
      allow_headers = local.cors_headers
      max_age       = 3600
    }
  }
}

resource "aws_apigatewayv2_integration" "function" {
  api_id             = aws_apigatewayv2_api.this.id
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  # The live alias: requests reach a new version once CodeDeploy shifts it.
  integration_uri        = module.function.alias_arn
  payload_format_version = "2.0"
}

# A JWT authorizer (issuer and audiences from the root's collect_jwt_*),
# only with auth = "jwt": the token comes in the Authorization header.
resource "aws_apigatewayv2_authorizer" "jwt" {
  count = var.auth == "jwt" ? 1 : 0

  api_id           = aws_apigatewayv2_api.this.id
  name             = "${local.name}-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }

  lifecycle {
    precondition {
      condition     = var.jwt_issuer != "" && length(var.jwt_audience) > 0
      error_message = "collect_auth = \"jwt\" needs collect_jwt_issuer (the https URL of the token issuer) and collect_jwt_audience (at least one audience)."
    }
  }
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309:the routes' authorization is var.collect_auth: AWS_IAM by default, JWT with an authorizer, NONE only when a deployment opts in explicitly with collect_auth = "none" (a public collector, throttled by the stage)
  for_each = local.routes

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "${each.value.method} ${each.value.path}"
  target             = "integrations/${aws_apigatewayv2_integration.function.id}"
  authorization_type = local.authorization_type
  authorizer_id      = var.auth == "jwt" ? aws_apigatewayv2_authorizer.jwt[0].id : null
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:retention is var.log_retention_days (default 30): operational logs of the pipeline, whose data is kept in the lake; raise it where policy asks for a year
  name              = "/aws/apigateway/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  # Every route: the steady rate and the burst API Gateway answers beyond
  # with 429 before fn-collect is invoked.
  default_route_settings {
    throttling_rate_limit  = var.throttle_rate
    throttling_burst_limit = var.throttle_burst
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format          = jsonencode(local.access_log_format)
  }
}

# --- custom domain (optional) ------------------------------------------------

resource "aws_apigatewayv2_domain_name" "this" {
  count = var.domain_name == "" ? 0 : 1

  domain_name = var.domain_name

  domain_name_configuration {
    certificate_arn = var.certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }

  lifecycle {
    precondition {
      condition     = var.certificate_arn != ""
      error_message = "collect_domain_name needs collect_certificate_arn: an ACM certificate for that name in the API's region."
    }
  }
}

resource "aws_apigatewayv2_api_mapping" "this" {
  count = var.domain_name == "" ? 0 : 1

  api_id      = aws_apigatewayv2_api.this.id
  domain_name = aws_apigatewayv2_domain_name.this[0].id
  stage       = aws_apigatewayv2_stage.default.id
}
