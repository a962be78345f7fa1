# The HTTP event collector: fn-collect behind an API Gateway HTTP API
# (api.tf), and optionally its own Lambda function URL. fn-collect checks and
# normalizes each posted event and puts it to the Kinesis stream of the
# real-time path (modules/stream) in the same region, so collected events
# reach the lake exactly as the other streamed records do. It reads nothing
# else and writes nowhere else.

locals {
  name = "${var.name_prefix}-collect"

  # What a browser may send: the body's type and encoding, the client's
  # idempotency key, and the headers of the three authentications.
  cors_headers = ["content-type", "content-encoding", "idempotency-key", "authorization", "x-amz-date", "x-amz-security-token"]
}

module "function" {
  source = "../lambda"

  name_prefix          = var.name_prefix
  binary               = "fn-collect"
  description          = "loglake: events posted over HTTP, checked and put to Kinesis"
  artifacts_dir        = var.artifacts_dir
  architecture         = var.architecture
  memory_mb            = var.memory_mb
  timeout_s            = var.timeout_s
  reserved_concurrency = var.reserved_concurrency
  kms_key_arn          = var.kms_key_arn
  log_retention_days   = var.log_retention_days
  permissions_boundary = var.permissions_boundary

  # Kinesis PutRecords on the one stream, its summary for GET /healthz, and
  # the stream's key (producers of an SSE-KMS stream generate data keys).
  # See infra/policies/README.md.
  policy_json = templatefile("${path.module}/../../policies/fn-collect.json.tftpl", {
    stream_arn     = var.stream_arn
    stream_key_arn = var.stream_key_arn
  })

  # Config::from_vars of crates/fn-collect; Lambda sets AWS_REGION (each
  # row's region) and AWS_LAMBDA_FUNCTION_NAME itself.
  environment = {
    STREAM_NAME     = var.stream_name
    EVENT_SERVICE   = var.event_service
    MAX_BODY_BYTES  = tostring(var.max_body_bytes)
    ALLOWED_ORIGINS = join(",", var.allowed_origins)
    REDACT          = var.redact
  }
}

# API Gateway may invoke the live alias (the integration's target) for the
# collector's routes only.
resource "aws_lambda_permission" "api" {
  for_each = local.routes

  statement_id  = "HttpApi-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  qualifier     = module.function.alias_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/${each.value.method}${each.value.path}"
}

# The optional function URL: the same function without API Gateway (no
# throttling but the function's reserved concurrency, no access log), signed
# with SigV4. A JWT cannot be checked there, so jwt deployments get AWS_IAM
# on the URL too. A public URL (collect_auth = "none") needs, since October
# 2025, lambda:InvokeFunction with the condition lambda:InvokedViaFunctionUrl
# besides lambda:InvokeFunctionUrl; aws_lambda_permission writes that
# condition only from provider 6.29 (invoked_via_function_url), and
# versions.tf allows 5.70, so it is refused rather than created broken.
# Callers need those permissions on the alias's ARN (<function ARN>:live).
resource "aws_lambda_function_url" "this" {
  count = var.function_url ? 1 : 0

  # The live alias's URL: requests reach a new version once CodeDeploy
  # shifts the alias to it.
  function_name      = module.function.function_name
  qualifier          = module.function.alias_name
  authorization_type = "AWS_IAM"
  invoke_mode        = "BUFFERED"

  dynamic "cors" {
    for_each = length(var.allowed_origins) > 0 ? [1] : []
    content {
      allow_origins = var.allowed_origins
      allow_methods = ["GET", "POST"]
      allow_headers = local.cors_headers
      max_age       = 3600
    }
  }

  lifecycle {
    precondition {
      condition     = var.auth != "none"
      error_message = "collect_function_url with collect_auth = \"none\" would be a public function URL, which needs the lambda:InvokedViaFunctionUrl permission the pinned aws provider cannot write: collect through the HTTP API (throttled, logged) or use collect_auth = \"iam\"."
    }
  }
}
