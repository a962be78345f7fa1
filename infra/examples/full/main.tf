# A production-shaped deployment: the lake with search, content alerts, the
# HTTP event collector in the home region and in one more region, and the
# inputs most deployments set, each with what it does. Values shown equal to
# the default are there to be changed. Every input is described in
# infra/variables.tf (and the modules' README.md files).

locals {
  region = "eu-west-1"
}

# The root module configures the aws (and opensearch) providers itself, from
# its region input (it is also deployed directly from infra/), and its
# collect regions through its own aliases aws.collect_1..3: it cannot be
# given provider configurations. This one reads who runs Terraform, below.
provider "aws" {
  region = local.region
}

# The search domain's master user must be the identity Terraform runs as
# (it applies the index template, ISM policy and Dashboards objects): the
# role behind the current session, e.g. an SSO or CI role.
data "aws_caller_identity" "current" {}

data "aws_iam_session_context" "current" {
  arn = data.aws_caller_identity.current.arn
}

module "loglake" {
  source = "../.."

  # --- where and what -------------------------------------------------------
  region      = local.region
  name_prefix = "loglake-prod" # names every resource; one per deployment in an account
  tags = {
    owner       = "data-platform"
    cost-center = "1234"
  }
  # artifacts_dir = "/path/to/zips" # default: target/lambda of the repository, where `make package` writes

  # --- storage ----------------------------------------------------------------
  s3_encryption                 = "SSE-KMS" # or "SSE-S3": AES256, no KMS request cost
  raw_retention_days            = 14        # raw objects, once they are Parquet in the lake
  quarantine_retention_days     = 400       # unparsable lines and search dead letters
  curated_noncurrent_days       = 30        # overwritten versions of lake objects
  athena_results_retention_days = 30
  log_retention_days            = 90 # the functions' and services' CloudWatch log groups

  # --- functions --------------------------------------------------------------
  lambda_architecture    = "arm64"                           # must match the zips (`make package` builds arm64)
  ingest_memory_mb       = 2048                              # about 1.2 vCPU: a 1 GiB object in seconds
  ingest_max_concurrency = 20                                # fn-ingest invocations the queue may start at once
  reserved_concurrency   = -1                                # per function; -1 leaves them in the account pool
  redact                 = "cards,emails"                    # PII masked before any sink; "none" or "" for none
  format_by_prefix       = "alb/=alb,cloudfront/=cloudfront" # skip sniffing under these prefixes

  # --- logs AWS services already write to your buckets ---------------------------
  # Ingested read-only, in this region. notify = true makes Terraform manage
  # the bucket's S3 event notification, which REPLACES any notification
  # configuration the bucket has; notify = false: send its ObjectCreated
  # events to the ingest queue (output ingest_queue_arn) yourself.
  aws_log_sources = [
    {
      bucket = "acme-cloudtrail-123456789012"
      prefix = "AWSLogs/123456789012/CloudTrail/" # not CloudTrail-Digest/
      format = "cloudtrail"
      # kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/..." # the trail's key, with SSE-KMS
    },
    {
      bucket = "acme-flow-logs-123456789012"
      prefix = "AWSLogs/123456789012/vpcflowlogs/"
      format = "vpcflow"
      notify = false # its notifications are managed elsewhere
    },
  ]

  # --- the real-time path (Kinesis -> fn-stream -> Firehose) ------------------
  kinesis_stream_mode        = "ON_DEMAND" # or "PROVISIONED" with kinesis_shard_count
  kinesis_retention_hours    = 24
  stream_batch_size          = 500
  firehose_buffer_size_mb    = 64 # Firehose writes a gzip object at 64 MB or 60 s,
  firehose_buffer_interval_s = 60 # whichever comes first

  # --- catalog ----------------------------------------------------------------
  athena_bytes_scanned_cutoff = 10737418240 # 10 GiB per query, then Athena cancels it

  # --- search (OpenSearch) ------------------------------------------------------
  enable_search          = true
  search_master_user_arn = data.aws_iam_session_context.current.issuer_arn
  search_instance_type   = "m6g.large.search"
  search_instance_count  = 2  # two zones
  search_volume_gb       = 50 # per data node
  search_retention_days  = 14 # ISM deletes older daily indices
  search_min_level       = "" # "WARN" indexes only WARN and above
  # A public endpoint guarded by IAM and fine-grained access control. Subnets
  # would place the domain (and the functions) in a VPC, which the collect
  # regions below could not reach.
  search_subnet_ids = []

  # --- alerts and alarms --------------------------------------------------------
  alert_email                      = "oncall@example.com" # confirm the e-mail AWS sends
  enable_alerts                    = true                 # content alerts from alerts.toml at the repository root
  alert_tables_deletion_protection = true                 # turn off before terraform destroy
  kinesis_iterator_age_alarm_ms    = 300000
  freshness_stream_p95_alarm_ms    = 60000
  freshness_ingest_p95_alarm_ms    = 900000

  # --- the HTTP event collector (POST /v1/events) -------------------------------
  enable_collect          = true
  collect_auth            = "iam"                    # SigV4; or "jwt" with the two lines below, or "none" (public)
  collect_jwt_issuer      = ""                       # e.g. "https://auth.example.com/"
  collect_jwt_audience    = []                       # e.g. ["loglake-collector"]
  collect_allowed_origins = ["https://shop.example"] # CORS for browsers; [] for server-side senders only
  collect_throttle_rate   = 1000                     # requests per second, then 429
  collect_throttle_burst  = 2000
  collect_5xx_alarm_pct   = 1
  # collect_domain_name     = "events.example.com"  # with an ACM certificate in this region:
  # collect_certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/..."

  # --- more than one region -----------------------------------------------------
  # The collector and the real-time path in us-east-1 too, delivering to this
  # region's lake (up to 3 regions).
  collect_regions = ["us-east-1"]

  # --- safe deploys ----------------------------------------------------------------
  # How CodeDeploy shifts each function to a new version after an apply
  # (scripts/deploy-functions.py): 10% for 5 minutes, then the rest, rolled
  # back when one of the function's alarms fires. LambdaAllAtOnce for a
  # first deploy.
  deployment_config             = "CodeDeployDefault.LambdaCanary10Percent5Minutes"
  ingest_quarantine_ratio_alarm = 0.2 # fn-ingest quarantining more of what it reads rolls it back

  # --- CI/CD ----------------------------------------------------------------------
  # Off: the pipeline's deploy role passes the home region's roles only, so
  # collect regions are applied from an administrator's session (a validation
  # refuses both). Without collect regions, set enable_cicd = true with
  # cicd_repository = "my-org/loglake" and the S3 state bucket of
  # backend.tf.example as cicd_state_bucket.
  enable_cicd = false
}
