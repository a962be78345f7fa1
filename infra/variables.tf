# --- where and what ---------------------------------------------------------

variable "region" {
  description = "AWS region of the deployment (the home region): the lake, its functions and, with enable_collect, the collector."
  type        = string
  default     = "eu-west-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name (lower case letters, digits and dashes). Two deployments in one account need two prefixes."
  type        = string
  default     = "loglake"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix must be 2-21 characters: lower case letters, digits and dashes, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags on every resource, merged over the default tags project = \"loglake\" and deployment = <name_prefix>."
  type        = map(string)
  default     = {}
}

variable "artifacts_dir" {
  description = "Directory holding the cargo-lambda zips (<dir>/<binary>/bootstrap.zip). Default: ../target/lambda relative to this module, where `make package` writes them."
  type        = string
  default     = null
}

# --- storage ----------------------------------------------------------------

variable "s3_encryption" {
  description = "Default encryption of the buckets: SSE-KMS (a customer managed key created here, with S3 bucket keys) or SSE-S3 (AES256, no KMS cost)."
  type        = string
  default     = "SSE-KMS"

  validation {
    condition     = contains(["SSE-KMS", "SSE-S3"], var.s3_encryption)
    error_message = "s3_encryption must be SSE-KMS or SSE-S3."
  }
}

variable "raw_retention_days" {
  description = "Days raw objects are kept after they arrive (the lake holds them as Parquet by then); overwritten versions expire after as many days."
  type        = number
  default     = 14
}

variable "quarantine_retention_days" {
  description = "Days quarantined lines and search dead letters are kept in the curated bucket."
  type        = number
  default     = 400
}

variable "curated_noncurrent_days" {
  description = "Days overwritten (noncurrent) versions of curated objects are kept."
  type        = number
  default     = 30
}

variable "athena_results_retention_days" {
  description = "Days Athena query results are kept."
  type        = number
  default     = 30
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the functions' and services' log groups; one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653), or 0 to keep them forever."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts: 0 (never expire), 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

# --- functions --------------------------------------------------------------

variable "lambda_architecture" {
  description = "Instruction set of every function, arm64 or x86_64; must match the zips (`make package` builds arm64)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "ingest_memory_mb" {
  description = "fn-ingest memory, in MB (128-10240). 2048 MB gives about 1.2 vCPU; the pipeline does ~230 MB/s per core, so a 1 GiB object takes seconds, not minutes."
  type        = number
  default     = 2048
}

variable "ingest_timeout_s" {
  description = "fn-ingest timeout, in seconds (at most 900); the SQS visibility timeout is set to 6x this."
  type        = number
  default     = 300
}

variable "ingest_batch_size" {
  description = "SQS messages (objects) per fn-ingest invocation."
  type        = number
  default     = 5

  validation {
    condition     = var.ingest_batch_size >= 1 && var.ingest_batch_size <= 10
    error_message = "ingest_batch_size must be between 1 and 10 (an SQS event source without a batching window takes at most 10 messages)."
  }
}

variable "ingest_max_concurrency" {
  description = "Most concurrent fn-ingest invocations the SQS event source starts (2-1000)."
  type        = number
  default     = 20

  validation {
    condition     = var.ingest_max_concurrency >= 2 && var.ingest_max_concurrency <= 1000
    error_message = "ingest_max_concurrency must be between 2 and 1000 (the SQS event source's maximum concurrency)."
  }
}

variable "ingest_memory_budget_mb" {
  description = "MEMORY_BUDGET_MB of fn-ingest: megabytes of rows buffered across open partitions before they are flushed to Parquet."
  type        = number
  default     = 256
}

variable "formats_path" {
  description = "A formats.toml of user-defined formats (see docs/formats.md), uploaded to the curated bucket at _config/formats.toml and read by fn-ingest (FORMATS_URI), which picks up a change within FORMATS_REFRESH_S (60 s). Null: none."
  type        = string
  default     = null

  validation {
    condition     = var.formats_path == null || try(fileexists(var.formats_path), false)
    error_message = "formats_path names a file that does not exist."
  }
}

variable "format_by_prefix" {
  description = "FORMAT_BY_PREFIX of fn-ingest: prefix=format pairs, comma-separated, e.g. \"alb/=alb,cloudfront/=cloudfront\"; a prefix written s3://<bucket>/<prefix> matches only objects of that bucket (aws_log_sources adds such pairs after these). Formats are json (ndjson, jsonl), combined (common, clf, apache, nginx), alb, cloudfront, vpcflow (vpc-flow), cloudtrail, waf, s3access, cwlogs, route53resolver, networkfirewall and text. Empty sniffs every object."
  type        = string
  default     = ""

  validation {
    condition     = alltrue([for p in split(",", var.format_by_prefix) : trimspace(p) == "" || can(regex("^[^=]*=\\s*(json|ndjson|jsonl|combined|common|clf|apache|nginx|alb|cloudfront|vpcflow|vpc-flow|cloudtrail|waf|s3access|cwlogs|route53resolver|networkfirewall|text)\\s*$", p))])
    error_message = "format_by_prefix holds prefix=format pairs, comma-separated, each format one of json, ndjson, jsonl, combined, common, clf, apache, nginx, alb, cloudfront, vpcflow, vpc-flow, cloudtrail, waf, s3access, cwlogs, route53resolver, networkfirewall or text (e.g. \"alb/=alb,cloudfront/=cloudfront\")."
  }
}

variable "aws_log_sources" {
  description = "Buckets AWS services already write their logs to (CloudTrail, VPC Flow Logs, WAF, S3 server access logs, ...), ingested by fn-ingest read-only. Each source: bucket, the bucket's name (in the deployment's region); prefix, the key prefix of the logs, e.g. \"AWSLogs/123456789012/CloudTrail/\" (default \"\": the whole bucket); format, the format of the objects under it: cloudtrail, vpcflow, waf, s3access, cwlogs, route53resolver, networkfirewall, alb, cloudfront, json or text (added to FORMAT_BY_PREFIX as s3://<bucket>/<prefix>=<format>); kms_key_arn, the ARN of the KMS key the objects are encrypted with, when SSE-KMS (fn-ingest may decrypt with it through S3 only); notify (default true): Terraform manages the bucket's S3 event notification to the ingest queue (aws_s3_bucket_notification, ObjectCreated under each prefix of the bucket). WARNING: S3 keeps one notification configuration per bucket, and notify = true REPLACES whatever configuration the bucket already has (other queues, topics, functions, EventBridge). For a bucket whose notifications are managed elsewhere, set notify = false and send its ObjectCreated events to the ingest queue (the output ingest_queue_arn) yourself; the queue accepts them. fn-ingest gets s3:GetObject and s3:GetObjectVersion under each prefix, s3:ListBucket limited to the prefixes and kms:Decrypt on the keys given, nothing that writes; the permission boundary allows the same."
  type = list(object({
    bucket      = string
    prefix      = optional(string, "")
    format      = string
    kms_key_arn = optional(string)
    notify      = optional(bool, true)
  }))
  default  = []
  nullable = false

  validation {
    condition     = alltrue([for s in var.aws_log_sources : contains(["cloudtrail", "vpcflow", "waf", "s3access", "cwlogs", "route53resolver", "networkfirewall", "alb", "cloudfront", "json", "text"], s.format)])
    error_message = "aws_log_sources: each source's format must be one of cloudtrail, vpcflow, waf, s3access, cwlogs, route53resolver, networkfirewall, alb, cloudfront, json or text."
  }

  validation {
    condition     = alltrue([for s in var.aws_log_sources : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", s.bucket)) && !strcontains(s.bucket, "..")])
    error_message = "aws_log_sources: each source's bucket must be an S3 bucket name (3-63 lower case letters, digits, dots and hyphens, beginning and ending with a letter or digit), not an ARN or an s3:// URL."
  }

  # The prefix ends up in FORMAT_BY_PREFIX (comma-separated prefix=format
  # pairs) and in IAM ARNs and conditions, where * ? and $ are wildcards
  # and variables.
  validation {
    condition     = alltrue([for s in var.aws_log_sources : s.prefix != null && can(regex("^[^,=*?$\\s]*$", s.prefix)) && !startswith(s.prefix, "/")])
    error_message = "aws_log_sources: a prefix must not contain commas, =, *, ?, $ or whitespace, nor start with /: it is a key prefix such as \"AWSLogs/123456789012/CloudTrail/\" (\"\" for the whole bucket)."
  }

  validation {
    condition     = alltrue([for s in var.aws_log_sources : s.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", s.kms_key_arn))])
    error_message = "aws_log_sources: kms_key_arn must be the ARN of a KMS key (arn:aws:kms:<region>:<account>:key/<id>, not an alias), or left out."
  }

  # One object, one source: S3 refuses two queue configurations of a bucket
  # whose prefixes overlap, and an object must have one format.
  validation {
    condition     = alltrue(flatten([for i, a in var.aws_log_sources : [for j, b in var.aws_log_sources : i == j || a.bucket != b.bucket || !startswith(a.prefix, b.prefix)]]))
    error_message = "aws_log_sources: two sources of one bucket must not overlap: neither prefix may begin with the other (the same prefix twice included)."
  }

  # The bucket's notification configuration is Terraform's or someone
  # else's: a resource for some of its prefixes replaces the others' too.
  validation {
    condition     = alltrue(flatten([for a in var.aws_log_sources : [for b in var.aws_log_sources : a.bucket != b.bucket || a.notify == b.notify]]))
    error_message = "aws_log_sources: the sources of one bucket must agree on notify (S3 keeps one notification configuration per bucket)."
  }

  validation {
    condition     = alltrue([for s in var.aws_log_sources : !can(regex("^${var.name_prefix}-(raw|curated|athena|access-logs|pipeline)-[0-9]{12}-", s.bucket))])
    error_message = "aws_log_sources: the deployment's own buckets are not sources (the raw bucket is ingested already, and its notification is Terraform's)."
  }

  # The pipeline's plan and deploy roles read and change the deployment's
  # own resources only, not another bucket's notification configuration.
  validation {
    condition     = !var.enable_cicd || alltrue([for s in var.aws_log_sources : !s.notify])
    error_message = "aws_log_sources with notify = true cannot be used with enable_cicd: the pipeline's roles may not read or replace another bucket's notification configuration. Set notify = false and send the bucket's ObjectCreated events to the ingest queue (output ingest_queue_arn) yourself."
  }
}

variable "stream_memory_mb" {
  description = "fn-stream memory, in MB (128-10240)."
  type        = number
  default     = 512
}

variable "stream_timeout_s" {
  description = "fn-stream timeout, in seconds (at most 900)."
  type        = number
  default     = 60
}

variable "stream_batch_size" {
  description = "Kinesis records per fn-stream invocation."
  type        = number
  default     = 500
}

variable "stream_batching_window_s" {
  description = "Seconds the Kinesis event source waits to fill a batch."
  type        = number
  default     = 1
}

variable "stream_parallelization_factor" {
  description = "Concurrent fn-stream invocations per shard (1-10)."
  type        = number
  default     = 1

  validation {
    condition     = var.stream_parallelization_factor >= 1 && var.stream_parallelization_factor <= 10
    error_message = "stream_parallelization_factor must be between 1 and 10."
  }
}

variable "stream_max_retry_attempts" {
  description = "Retries of a failing Kinesis batch before its records go to the on-failure queue (0-10000; never infinite)."
  type        = number
  default     = 5

  validation {
    condition     = var.stream_max_retry_attempts >= 0 && var.stream_max_retry_attempts <= 10000
    error_message = "stream_max_retry_attempts must be between 0 and 10000 (never -1, infinite: a failing batch would block its shard)."
  }
}

variable "stream_max_record_age_s" {
  description = "Age in seconds past which a record goes to the on-failure queue instead of being retried (60-604800; never infinite)."
  type        = number
  default     = 3600

  validation {
    condition     = var.stream_max_record_age_s >= 60 && var.stream_max_record_age_s <= 604800
    error_message = "stream_max_record_age_s must be between 60 and 604800 (never -1, infinite)."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function (-1: none, the account pool; the SQS source is capped by ingest_max_concurrency and Kinesis by shards x parallelization)."
  type        = number
  default     = -1
}

variable "redact" {
  description = "REDACT: what PII the functions mask before any sink, comma-separated kinds: cards, emails, ips, secrets, all, or none alone (e.g. \"cards\", \"cards,emails\"); empty turns redaction off like none."
  type        = string
  default     = "cards,emails,secrets"

  validation {
    condition     = alltrue([for w in split(",", var.redact) : contains(["", "cards", "card", "emails", "email", "ips", "ip", "secrets", "secret", "all", "none"], lower(trimspace(w)))]) && !(contains([for w in split(",", var.redact) : lower(trimspace(w))], "none") && length([for w in split(",", var.redact) : w if trimspace(w) != ""]) > 1)
    error_message = "redact holds comma-separated kinds among cards, emails, ips, secrets and all, or none alone (empty: no redaction)."
  }
}

# --- stream -----------------------------------------------------------------

variable "kinesis_stream_mode" {
  description = "Capacity mode of the Kinesis stream: ON_DEMAND (Kinesis scales the shards itself) or PROVISIONED (kinesis_shard_count shards)."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.kinesis_stream_mode)
    error_message = "kinesis_stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "kinesis_shard_count" {
  description = "Shards of the stream when kinesis_stream_mode is PROVISIONED (at least 1); ignored when ON_DEMAND."
  type        = number
  default     = 1

  validation {
    condition     = var.kinesis_shard_count >= 1
    error_message = "kinesis_shard_count must be at least 1."
  }
}

variable "kinesis_retention_hours" {
  description = "Hours the Kinesis stream keeps records (24-8760)."
  type        = number
  default     = 24

  validation {
    condition     = var.kinesis_retention_hours >= 24 && var.kinesis_retention_hours <= 8760
    error_message = "kinesis_retention_hours must be between 24 and 8760 (one year)."
  }
}

variable "firehose_buffer_size_mb" {
  description = "MB Firehose buffers before it writes a gzip object to the raw bucket (1-128)."
  type        = number
  default     = 64

  validation {
    condition     = var.firehose_buffer_size_mb >= 1 && var.firehose_buffer_size_mb <= 128
    error_message = "firehose_buffer_size_mb must be between 1 and 128."
  }
}

variable "firehose_buffer_interval_s" {
  description = "Seconds Firehose buffers before it writes, whichever of size or time comes first (0-900)."
  type        = number
  default     = 60

  validation {
    condition     = var.firehose_buffer_interval_s >= 0 && var.firehose_buffer_interval_s <= 900
    error_message = "firehose_buffer_interval_s must be between 0 and 900."
  }
}

# --- catalog ----------------------------------------------------------------

variable "athena_bytes_scanned_cutoff" {
  description = "Athena workgroup limit of bytes scanned per query; a query scanning more is cancelled (at least 10485760, 10 MB; default 10 GiB)."
  type        = number
  default     = 10737418240

  validation {
    condition     = var.athena_bytes_scanned_cutoff >= 10485760
    error_message = "athena_bytes_scanned_cutoff must be at least 10485760 (10 MB), Athena's minimum."
  }
}

variable "lake_start_date" {
  description = "First dt the partition projection covers (yyyy-MM-dd): by default the earliest time ingest accepts (crates/core/src/ingest/options.rs DEFAULT_MIN_TS_MS), so no accepted row lies outside it; queries should still filter on dt."
  type        = string
  default     = "2000-01-01"

  validation {
    condition     = can(regex("^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", var.lake_start_date))
    error_message = "lake_start_date must be a date as yyyy-MM-dd, e.g. 2000-01-01."
  }
}

# --- search -----------------------------------------------------------------

variable "enable_search" {
  description = "Create an OpenSearch domain and have the functions index into it."
  type        = bool
  default     = false
}

variable "search_master_user_arn" {
  description = "IAM role or user ARN that becomes the domain's fine-grained access control master user. Terraform must run as it to apply the index template and ISM policy. Required when enable_search is true."
  type        = string
  default     = ""

  validation {
    condition     = var.search_master_user_arn == "" || can(regex("^arn:[a-z-]+:iam::[0-9]{12}:(role|user)/", var.search_master_user_arn))
    error_message = "search_master_user_arn must be empty or an IAM role or user ARN (arn:aws:iam::123456789012:role/NAME)."
  }
}

variable "search_engine_version" {
  description = "OpenSearch engine version, as OpenSearch Service names it (e.g. OpenSearch_2.19)."
  type        = string
  default     = "OpenSearch_2.19"
}

variable "search_instance_type" {
  description = "Instance type of the OpenSearch data nodes (e.g. m6g.large.search)."
  type        = string
  default     = "m6g.large.search"
}

variable "search_instance_count" {
  description = "OpenSearch data nodes (2 or more spreads them over two zones)."
  type        = number
  default     = 2
}

variable "search_volume_gb" {
  description = "Size of each data node's gp3 EBS volume, in GB."
  type        = number
  default     = 50
}

variable "search_subnet_ids" {
  description = "Subnets to place the domain in a VPC (empty: a public endpoint guarded by IAM and fine-grained access control). The functions then also run in these subnets."
  type        = list(string)
  default     = []
}

variable "search_allowed_cidrs" {
  description = "CIDR blocks allowed to reach a VPC domain on 443 (besides the functions)."
  type        = list(string)
  default     = []
}

variable "search_retention_days" {
  description = "Days an index is kept by the ISM policy before it is deleted."
  type        = number
  default     = 14
}

variable "search_min_level" {
  description = "SEARCH_MIN_LEVEL: index only records at this level or above, one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case); \"\" indexes everything."
  type        = string
  default     = ""

  validation {
    condition     = var.search_min_level == "" || contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], upper(var.search_min_level))
    error_message = "search_min_level must be empty (index everything) or one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "search_index_prefix" {
  description = "SEARCH_INDEX_PREFIX: daily indices are <prefix>YYYY.MM.DD."
  type        = string
  default     = "logs-"
}

variable "search_apply_settings" {
  description = "Apply the index template and ISM policy with the opensearch provider. Set false when Terraform cannot reach a VPC domain, and run `loglake search setup` from inside the VPC instead."
  type        = bool
  default     = true
}

# --- alerts -----------------------------------------------------------------

variable "alert_email" {
  description = "E-mail address subscribed to the alerts topic (empty: no subscription; confirm the e-mail AWS sends)."
  type        = string
  default     = ""
}

variable "enable_alerts" {
  description = "Content alerts (issue 6): the alert-windows and alert-state DynamoDB tables, fn-alerts on a one-minute schedule, and the ALERT_* settings and permissions of fn-ingest and fn-stream. False leaves only the topic the alarms use."
  type        = bool
  default     = true
}

variable "alert_rules_path" {
  description = "The alert rules TOML, read only when enable_alerts. Default: ../alerts.toml relative to this module (the repository's). Uploaded to the curated bucket at _config/alerts.toml (encrypted with the data key), which fn-alerts, fn-ingest and fn-stream read through ALERT_RULES_URI: an apply that changes the file is picked up within ALERT_RULES_REFRESH_S (60 s) without redeploying the functions. No size limit beyond the functions' 1 MiB."
  type        = string
  default     = null
}

variable "alert_tables_deletion_protection" {
  description = "Deletion protection of the alert DynamoDB tables (turn off before destroying the deployment)."
  type        = bool
  default     = true
}

variable "kinesis_iterator_age_alarm_ms" {
  description = "Alarm when fn-stream falls this far behind the stream (IteratorAge, in milliseconds; default 5 minutes)."
  type        = number
  default     = 300000
}

variable "freshness_stream_p95_alarm_ms" {
  description = "Alarm when fn-stream's FreshnessP95Ms (event time to forwarded, p95 of a batch, in milliseconds) stays above this for 15 minutes."
  type        = number
  default     = 60000
}

variable "freshness_ingest_p95_alarm_ms" {
  description = "Alarm when fn-ingest's FreshnessP95Ms (event time to written to Parquet, p95 of a batch, in milliseconds) stays above this for 15 minutes; Firehose's buffering and the raw bucket's notifications add minutes."
  type        = number
  default     = 900000
}

variable "ingest_quarantine_ratio_alarm" {
  description = "Alarm (and roll a deployment of fn-ingest back) when fn-ingest quarantines more than this share (0-1) of the lines it reads over 5 minutes (Quarantined / LinesIn)."
  type        = number
  default     = 0.2

  validation {
    condition     = var.ingest_quarantine_ratio_alarm > 0 && var.ingest_quarantine_ratio_alarm <= 1
    error_message = "ingest_quarantine_ratio_alarm is a share of the lines read, above 0 and at most 1."
  }
}

# --- safe deploys (modules/codedeploy) -------------------------------------

variable "deployment_config" {
  description = "How CodeDeploy shifts each function's live alias to a new version: one of AWS's predefined Lambda configurations, CodeDeployDefault.LambdaCanary10Percent<5|10|15|30>Minutes (10% first, the rest after that long), CodeDeployDefault.LambdaLinear10PercentEvery<1|2|3|10>Minute(s) (10% more each step) or CodeDeployDefault.LambdaAllAtOnce (use it for a first deploy, or to ship a fix at once). A deployment rolls back when one of the function's alarms fires meanwhile."
  type        = string
  default     = "CodeDeployDefault.LambdaCanary10Percent5Minutes"

  validation {
    condition = contains([
      "CodeDeployDefault.LambdaAllAtOnce",
      "CodeDeployDefault.LambdaCanary10Percent5Minutes",
      "CodeDeployDefault.LambdaCanary10Percent10Minutes",
      "CodeDeployDefault.LambdaCanary10Percent15Minutes",
      "CodeDeployDefault.LambdaCanary10Percent30Minutes",
      "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
      "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes",
      "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes",
      "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes",
    ], var.deployment_config)
    error_message = "deployment_config must be one of AWS's predefined Lambda deployment configurations: CodeDeployDefault.LambdaAllAtOnce, CodeDeployDefault.LambdaCanary10Percent5Minutes (10Minutes, 15Minutes, 30Minutes), CodeDeployDefault.LambdaLinear10PercentEvery1Minute (Every2Minutes, Every3Minutes, Every10Minutes)."
  }
}

# --- the HTTP event collector (modules/collect) -----------------------------

variable "enable_collect" {
  description = "Deploy the HTTP event collector: an API Gateway HTTP API (POST /v1/events, GET /healthz) in front of fn-collect, which puts events to the Kinesis stream of the real-time path."
  type        = bool
  default     = false
}

variable "collect_auth" {
  description = "Who may call the collector: iam (SigV4-signed requests of principals allowed execute-api:Invoke), jwt (a JWT authorizer: collect_jwt_issuer, collect_jwt_audience) or none (anyone: an explicit opt-in)."
  type        = string
  default     = "iam"

  validation {
    condition     = contains(["iam", "jwt", "none"], var.collect_auth)
    error_message = "collect_auth must be iam, jwt or none."
  }
}

variable "collect_jwt_issuer" {
  description = "With collect_auth = \"jwt\": the token issuer's https URL (its /.well-known/openid-configuration names the keys)."
  type        = string
  default     = ""

  validation {
    condition     = var.collect_jwt_issuer == "" || startswith(var.collect_jwt_issuer, "https://")
    error_message = "collect_jwt_issuer must be an https URL."
  }
}

variable "collect_jwt_audience" {
  description = "With collect_auth = \"jwt\": the audiences (aud or client_id) a token must carry, at least one."
  type        = list(string)
  default     = []
}

variable "collect_event_service" {
  description = "EVENT_SERVICE of fn-collect: the lake's service of collected events."
  type        = string
  default     = "events"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,64}$", var.collect_event_service))
    error_message = "collect_event_service must be 1-64 letters, digits, dots, dashes or underscores."
  }
}

variable "collect_max_body_bytes" {
  description = "MAX_BODY_BYTES of fn-collect: the largest decoded body accepted (Lambda's 6 MB payload limit caps it)."
  type        = number
  default     = 1048576

  validation {
    condition     = var.collect_max_body_bytes >= 1024 && var.collect_max_body_bytes <= 6291456
    error_message = "collect_max_body_bytes must be between 1024 and 6291456."
  }
}

variable "collect_allowed_origins" {
  description = "Browser origins allowed to post (CORS on the API and the function URL, ALLOWED_ORIGINS of fn-collect), e.g. [\"https://shop.example\"], or [\"*\"]; empty: no CORS."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.collect_allowed_origins : o == "*" || can(regex("^https?://[^/*]+$", o))])
    error_message = "collect_allowed_origins holds \"*\" or origins (scheme://host[:port], no path)."
  }
}

variable "collect_throttle_rate" {
  description = "Requests per second the collector's stage allows (steady state; beyond it API Gateway answers 429)."
  type        = number
  default     = 1000
}

variable "collect_throttle_burst" {
  description = "Burst limit of the collector's stage, in requests: the token bucket API Gateway refills at collect_throttle_rate per second."
  type        = number
  default     = 2000
}

variable "collect_function_url" {
  description = "Also give fn-collect a Lambda function URL (AWS_IAM; not with collect_auth = \"none\")."
  type        = bool
  default     = false
}

variable "collect_domain_name" {
  description = "Custom domain of the home region's collector API (empty: the execute-api endpoint only)."
  type        = string
  default     = ""
}

variable "collect_certificate_arn" {
  description = "ACM certificate of collect_domain_name, in var.region."
  type        = string
  default     = ""
}

variable "collect_memory_mb" {
  description = "fn-collect memory, in MB (128-10240)."
  type        = number
  default     = 512
}

variable "collect_timeout_s" {
  description = "fn-collect timeout, in seconds (1-29): API Gateway waits at most 30 s for it."
  type        = number
  default     = 10

  validation {
    condition     = var.collect_timeout_s >= 1 && var.collect_timeout_s <= 29
    error_message = "collect_timeout_s must be between 1 and 29 (an HTTP API integration times out at 30 s)."
  }
}

variable "collect_5xx_alarm_pct" {
  description = "Alarm when more than this percentage (0-100) of the collector's requests get a 5xx over 5 minutes."
  type        = number
  default     = 1

  validation {
    condition     = var.collect_5xx_alarm_pct >= 0 && var.collect_5xx_alarm_pct <= 100
    error_message = "collect_5xx_alarm_pct is a percentage, between 0 and 100."
  }
}

# --- more than one region (modules/collect-region) --------------------------

variable "collect_regions" {
  description = "Up to 3 regions besides var.region, each with its own collector: HTTP API, fn-collect, Kinesis stream, fn-stream and Firehose, delivering to the home raw bucket. Not with a VPC search domain nor with enable_cicd."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.collect_regions) <= 3
    error_message = "collect_regions holds at most 3 regions (one provider alias each: aws.collect_1..3)."
  }

  validation {
    condition     = length(distinct(var.collect_regions)) == length(var.collect_regions)
    error_message = "collect_regions must not name a region twice."
  }

  validation {
    condition     = !contains(var.collect_regions, var.region)
    error_message = "collect_regions must not include var.region: the home region's collector is enable_collect."
  }

  validation {
    condition     = alltrue([for r in var.collect_regions : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", r))])
    error_message = "collect_regions holds region names such as eu-central-1."
  }

  # fn-stream of a collect region indexes into the home domain over its
  # endpoint: a domain inside a VPC of the home region is out of its reach.
  validation {
    condition     = length(var.collect_regions) == 0 || !(var.enable_search && length(var.search_subnet_ids) > 0)
    error_message = "collect_regions cannot be used with a search domain in a VPC (search_subnet_ids): the collect regions' fn-stream could not reach it. Use a public domain (no search_subnet_ids), or no collect regions."
  }

  # The pipeline's deploy role passes and scopes the home region's roles
  # only; collect regions are applied by an administrator.
  validation {
    condition     = length(var.collect_regions) == 0 || !var.enable_cicd
    error_message = "collect_regions cannot be used with enable_cicd: the pipeline's deploy role may pass only the home region's roles. Apply collect regions from an administrator's session."
  }
}

# --- CI/CD ------------------------------------------------------------------

variable "enable_cicd" {
  description = "Create the CodePipeline (source, build, plan, manual approval, apply) and its own key."
  type        = bool
  default     = false
}

variable "cicd_repository" {
  description = "Repository the pipeline builds, as owner/name (e.g. my-org/loglake); required when enable_cicd is true."
  type        = string
  default     = ""

  validation {
    condition     = var.cicd_repository == "" || can(regex("^[^/\\s]+(/[^/\\s]+)+$", var.cicd_repository))
    error_message = "cicd_repository must be owner/name (GitLab: group/subgroup/name)."
  }
}

variable "cicd_branch" {
  description = "Branch of cicd_repository whose pushes start the pipeline."
  type        = string
  default     = "main"
}

variable "cicd_connection_arn" {
  description = "An existing CodeStar/CodeConnections connection ARN; empty creates one (PENDING until you complete the handshake in the console)."
  type        = string
  default     = ""
}

variable "cicd_connection_provider" {
  description = "Host of a connection created here (when cicd_connection_arn is empty): GitHub, GitLab or Bitbucket."
  type        = string
  default     = "GitHub"

  validation {
    condition     = contains(["GitHub", "GitLab", "Bitbucket"], var.cicd_connection_provider)
    error_message = "cicd_connection_provider must be GitHub, GitLab or Bitbucket."
  }
}

variable "cicd_state_bucket" {
  description = "S3 bucket holding this deployment's Terraform state (see backend.tf.example); the pipeline plans and applies against it. Required when enable_cicd is true."
  type        = string
  default     = ""
}

variable "cicd_state_key" {
  description = "Key of the state object in cicd_state_bucket (its lock file is <key>.tflock)."
  type        = string
  default     = "loglake/terraform.tfstate"
}
