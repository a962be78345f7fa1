variable "name_prefix" {
  description = "Prefix of every name here: the API and function <prefix>-collect / <prefix>-fn-collect, the access log /aws/apigateway/<prefix>-collect, the alarm <prefix>-collect-5xx-rate."
  type        = string
}

variable "artifacts_dir" {
  description = "Directory cargo lambda wrote the zips to; the function is deployed from <artifacts_dir>/fn-collect/bootstrap.zip."
  type        = string
}

variable "architecture" {
  description = "Instruction set of the function, arm64 or x86_64; must match the zip (`make package` builds arm64). Validated by modules/lambda."
  type        = string
}

variable "memory_mb" {
  description = "Memory of fn-collect, in MB (Lambda allocates CPU in proportion)."
  type        = number
}

variable "timeout_s" {
  description = "Timeout of fn-collect, in seconds; keep it under API Gateway's 30 s integration timeout (the root's collect_timeout_s allows 1-29)."
  type        = number
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of the function; -1 reserves none (the account's unreserved pool)."
  type        = number
}

variable "redact" {
  description = "REDACT of the function: the PII kinds masked before any sink, comma-separated (cards, emails, ips, secrets, all or none); empty turns redaction off. Validated by the root's redact."
  type        = string
}

variable "kms_key_arn" {
  description = "This region's key: the function's environment and log group, the access log group."
  type        = string
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps fn-collect's log group and the API's access log."
  type        = number
}

variable "permissions_boundary" {
  description = "ARN of the deployment's permission boundary (modules/boundary), which the function's role carries."
  type        = string
}

variable "stream_name" {
  description = "STREAM_NAME: the Kinesis stream of the real-time path (modules/stream) in this region."
  type        = string
}

variable "stream_arn" {
  description = "ARN of the Kinesis stream of stream_name: fn-collect's policy may put records to and describe this stream only."
  type        = string
}

variable "stream_key_arn" {
  description = "The key the stream is encrypted with (producers of an SSE-KMS stream need kms:GenerateDataKey on it)."
  type        = string
}

variable "event_service" {
  description = "EVENT_SERVICE: the lake's service of collected events."
  type        = string
}

variable "max_body_bytes" {
  description = "MAX_BODY_BYTES: the largest decoded body fn-collect accepts."
  type        = number
}

variable "allowed_origins" {
  description = "Browser origins allowed by CORS (API Gateway, the function URL, and ALLOWED_ORIGINS of the function); empty: no CORS."
  type        = list(string)
}

variable "auth" {
  description = "Who may call the routes: iam (SigV4), jwt (a JWT authorizer) or none."
  type        = string

  validation {
    condition     = contains(["iam", "jwt", "none"], var.auth)
    error_message = "auth must be iam, jwt or none."
  }
}

variable "jwt_issuer" {
  description = "With auth = \"jwt\": the https URL of the token issuer (its /.well-known/openid-configuration names the signing keys); required then, ignored otherwise."
  type        = string
  default     = ""
}

variable "jwt_audience" {
  description = "With auth = \"jwt\": the audiences (aud, or client_id) of which a token must carry one; at least one then, ignored otherwise."
  type        = list(string)
  default     = []
}

variable "throttle_rate" {
  description = "Requests per second the stage allows, across routes (steady state)."
  type        = number
}

variable "throttle_burst" {
  description = "Requests the stage allows in a burst."
  type        = number
}

variable "function_url" {
  description = "Also give fn-collect a Lambda function URL (AWS_IAM)."
  type        = bool
  default     = false
}

variable "domain_name" {
  description = "Custom domain of the API (empty: the execute-api endpoint only)."
  type        = string
  default     = ""
}

variable "certificate_arn" {
  description = "ACM certificate of domain_name, in this region."
  type        = string
  default     = ""
}

variable "alarm_topic_arn" {
  description = "Where the 5xx-rate alarm (and its recovery) is sent: a topic in this region."
  type        = string
}

variable "error_rate_alarm_pct" {
  description = "Alarm when more than this percentage of requests get a 5xx over 5 minutes."
  type        = number
}
