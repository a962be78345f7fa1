# The buckets: raw (what arrives, kept briefly), curated (the lake: Parquet
# under logs/ and summary/, quarantine/, _manifests/, _checkpoints/ and
# search-dlq/; deployments' canary outputs under _canary/), Athena results, and the access-log bucket the other three
# log to. All private, TLS-only, encrypted by default.

locals {
  name = "${var.name_prefix}-%s-${var.account_id}-${var.region}"
  # SSE-S3 when the deployment chose it; the key otherwise.
  key = var.encryption == "SSE-KMS" ? var.kms_key_arn : null
}

module "access_logs" {
  source = "./bucket"

  name                 = format(local.name, "access-logs")
  account_id           = var.account_id
  kms_key_arn          = null # S3 server access logs can only be delivered to SSE-S3 buckets
  receives_access_logs = true
}

module "raw" {
  source = "./bucket"

  # Versioned, so every upload of a key is its own object: an overwrite
  # before fn-ingest reads the first upload does not lose it (each event
  # names its version), and each version gets its own identity and outputs.
  # With versioning suspended S3 reports version "null" for every upload.
  name              = format(local.name, "raw")
  account_id        = var.account_id
  kms_key_arn       = local.key
  versioning        = true
  access_log_bucket = module.access_logs.id
}

module "curated" {
  source = "./bucket"

  # The lake is versioned so an overwrite or a delete can be undone.
  name              = format(local.name, "curated")
  account_id        = var.account_id
  kms_key_arn       = local.key
  versioning        = true
  access_log_bucket = module.access_logs.id
}

module "athena_results" {
  source = "./bucket"

  name              = format(local.name, "athena")
  account_id        = var.account_id
  kms_key_arn       = local.key
  access_log_bucket = module.access_logs.id
  force_destroy     = true
}

resource "aws_s3_bucket_lifecycle_configuration" "raw" {
  bucket = module.raw.id

  rule {
    id     = "expire-raw"
    status = "Enabled"
    filter {}
    expiration {
      days = var.raw_retention_days
    }
    # An overwritten upload stays readable long enough to be ingested (its
    # event may still be queued), then goes like the rest.
    noncurrent_version_expiration {
      noncurrent_days = var.raw_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  # Expired objects leave delete markers behind; remove them.
  rule {
    id     = "expire-raw-delete-markers"
    status = "Enabled"
    filter {}
    expiration {
      expired_object_delete_marker = true
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "curated" {
  bucket = module.curated.id

  rule {
    id     = "lake-intelligent-tiering"
    status = "Enabled"
    filter {
      prefix = "logs/"
    }
    # Parquet is read often while fresh and rarely later: Intelligent-Tiering
    # moves it between tiers without retrieval fees.
    transition {
      days          = 0
      storage_class = "INTELLIGENT_TIERING"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.curated_noncurrent_days
    }
  }

  rule {
    id     = "quarantine-kept-longer"
    status = "Enabled"
    filter {
      prefix = "quarantine/"
    }
    expiration {
      days = var.quarantine_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.curated_noncurrent_days
    }
  }

  rule {
    id     = "search-dead-letters"
    status = "Enabled"
    filter {
      prefix = "search-dlq/"
    }
    expiration {
      days = var.quarantine_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.curated_noncurrent_days
    }
  }

  # The per-minute summary: an hour's file is rewritten when late records
  # reopen it (fn-alerts), so its overwritten versions expire like the
  # lake's. A few KB an hour: no tiering.
  rule {
    id     = "summary-versions"
    status = "Enabled"
    filter {
      prefix = "summary/"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.curated_noncurrent_days
    }
  }

  rule {
    id     = "manifests-and-versions"
    status = "Enabled"
    filter {
      prefix = "_manifests/"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.curated_noncurrent_days
    }
  }

  # Checkpoints of long objects: removed when the object finishes; those
  # of objects that never did (a deleted source, changed settings) expire.
  rule {
    id     = "checkpoints"
    status = "Enabled"
    filter {
      prefix = "_checkpoints/"
    }
    expiration {
      days = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  # Notes of what Firehose took from a batch that failed part-way, read by
  # its retry: no use once the stream's retention has passed.
  rule {
    id     = "stream-progress"
    status = "Enabled"
    filter {
      prefix = "stream-progress/"
    }
    expiration {
      days = 2
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  # What fn-ingest makes of fn-canary's canary objects, one per deployment
  # of fn-ingest (modules/ingest, canary_prefix): read by the hook within
  # minutes, kept a week to look at.
  rule {
    id     = "canary"
    status = "Enabled"
    filter {
      prefix = "_canary/"
    }
    expiration {
      days = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

}

resource "aws_s3_bucket_lifecycle_configuration" "athena_results" {
  bucket = module.athena_results.id

  rule {
    id     = "expire-results"
    status = "Enabled"
    filter {}
    expiration {
      days = var.athena_results_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = module.access_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.quarantine_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}
