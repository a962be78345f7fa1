# The lake in the Glue Data Catalog and Athena: the logs table over
# curated/logs/ with partition projection (new dt/hr partitions are queryable
# the moment a file lands: no crawler, no MSCK REPAIR TABLE), the quarantine
# table, the per-minute summary table (curated/summary/, written by fn-alerts)
# and its views, a workgroup with encrypted results and a scan limit, and the
# saved queries people ask first.

locals {
  # Must equal crates/core/src/schema.rs COLUMNS (`loglake schema` prints the
  # same); tests/test_infra.py compares them.
  columns = [
    { name = "ts", type = "timestamp" },
    { name = "level", type = "string" },
    { name = "service", type = "string" },
    { name = "message", type = "string" },
    { name = "host", type = "string" },
    { name = "region", type = "string" },
    { name = "http_method", type = "string" },
    { name = "http_path", type = "string" },
    { name = "http_status", type = "smallint" },
    { name = "latency_ms", type = "double" },
    { name = "bytes_sent", type = "bigint" },
    { name = "client_ip", type = "string" },
    { name = "user_agent", type = "string" },
    { name = "user_id", type = "string" },
    { name = "session_id", type = "string" },
    { name = "trace_id", type = "string" },
    { name = "request_id", type = "string" },
    { name = "event_type", type = "string" },
    { name = "order_id", type = "string" },
    { name = "sku", type = "string" },
    { name = "currency", type = "string" },
    { name = "amount", type = "double" },
    { name = "error_type", type = "string" },
    { name = "attributes", type = "map<string,string>" },
    { name = "source_format", type = "string" },
    { name = "source_uri", type = "string" },
    { name = "source_line", type = "bigint" },
    { name = "event_id", type = "string" },
  ]

  # One line per quarantined input line (core's QuarantineRecord).
  quarantine_columns = [
    { name = "source_uri", type = "string" },
    { name = "line", type = "bigint" },
    { name = "offset", type = "bigint" },
    { name = "reason", type = "string" },
    { name = "detail", type = "string" },
    { name = "raw", type = "string" },
    { name = "raw_base64", type = "string" },
    { name = "raw_sha256", type = "string" },
    { name = "raw_len", type = "bigint" },
  ]

  # One row per (minute, service): crates/core/src/summary.rs (schema) writes
  # it, fn-alerts in AWS once an hour closes and `loglake summary` locally;
  # tests/test_infra.py holds both to the same list.
  summary_columns = [
    { name = "minute", type = "timestamp", comment = "Start of the minute, UTC; dt and hr derive from it" },
    { name = "service", type = "string", comment = "The records' service: one row per minute and service" },
    { name = "records", type = "bigint", comment = "Records in the minute" },
    { name = "errors", type = "bigint", comment = "Records with level ERROR or FATAL" },
    { name = "warnings", type = "bigint", comment = "Records with level WARN" },
    { name = "status_4xx", type = "bigint", comment = "Records whose http_status is 400-499" },
    { name = "status_5xx", type = "bigint", comment = "Records whose http_status is 500-599" },
    { name = "error_pct", type = "double", comment = "errors / records * 100" },
    { name = "latency_avg_ms", type = "double", comment = "Average latency_ms of the records that have one (exact); null when none has" },
    { name = "latency_p50_ms", type = "double", comment = "Median latency_ms, from a log-scale histogram: within 1% relative error; null when none" },
    { name = "latency_p95_ms", type = "double", comment = "95th percentile of latency_ms, from a log-scale histogram: within 1% relative error; null when none" },
    { name = "latency_p99_ms", type = "double", comment = "99th percentile of latency_ms, from a log-scale histogram: within 1% relative error; null when none" },
    { name = "unique_users", type = "bigint", comment = "Distinct user_id, a HyperLogLog estimate: about 3% standard error, near exact below a few hundred" },
    { name = "unique_sessions", type = "bigint", comment = "Distinct session_id, a HyperLogLog estimate: about 3% standard error, near exact below a few hundred" },
    { name = "orders", type = "bigint", comment = "Records with an order_id and an amount that are not errors (level below ERROR, http_status below 400)" },
    { name = "revenue", type = "map<string,double>", comment = "Sum of amount per currency over those orders" },
    { name = "events_by_type", type = "map<string,bigint>", comment = "Records per event_type: at most 64 types, the rest under (other)" },
  ]

  logs_location       = "s3://${var.curated_bucket}/logs/"
  quarantine_location = "s3://${var.curated_bucket}/quarantine/"
  summary_location    = "s3://${var.curated_bucket}/summary/"
  logs                = "\"${aws_glue_catalog_database.lake.name}\".\"${aws_glue_catalog_table.logs.name}\""
  summary             = "\"${aws_glue_catalog_database.lake.name}\".\"${aws_glue_catalog_table.summary.name}\""

  # logs_dedup: the logs table with each event_id once. At-least-once
  # delivery (a retried Kinesis batch, a redelivered S3 event) can write an
  # event twice; both copies carry its event_id (crates/core/src/record.rs
  # event_id). Duplicates share a time, so dt and hr are window partition
  # keys and a query's partition filter still prunes. The SQL is the same
  # file tests/test_readers.py runs in DuckDB.
  dedup_sql = templatefile("${path.module}/../../views/logs_dedup.sql.tftpl", {
    columns = join(", ", [for c in local.columns : c.name])
    logs    = local.logs
  })
  # Athena (Trino) column types of the view, from the Hive types.
  presto_types = {
    timestamp            = "timestamp(3)"
    string               = "varchar"
    smallint             = "smallint"
    bigint               = "bigint"
    double               = "double"
    "map<string,string>" = "map(varchar,varchar)"
    "map<string,double>" = "map(varchar,double)"
    "map<string,bigint>" = "map(varchar,bigint)"
  }
  dedup_view = {
    originalSql = local.dedup_sql
    catalog     = "awsdatacatalog"
    schema      = aws_glue_catalog_database.lake.name
    columns = concat(
      [for c in local.columns : { name = c.name, type = local.presto_types[c.type] }],
      [{ name = "dt", type = "varchar" }, { name = "hr", type = "varchar" }],
    )
  }
}

# An Athena view is a Glue table of type VIRTUAL_VIEW whose original text is
# the view's definition, base64 in a Presto View comment.
resource "aws_glue_catalog_table" "logs_dedup" {
  name               = "logs_dedup"
  database_name      = aws_glue_catalog_database.lake.name
  description        = "logs with each event_id once: query this when a duplicate would matter (counts, sums)"
  table_type         = "VIRTUAL_VIEW"
  view_original_text = "/* Presto View: ${base64encode(jsonencode(local.dedup_view))} */"
  view_expanded_text = "/* Presto View */"

  parameters = {
    presto_view = "true"
    comment     = "Presto View"
  }

  storage_descriptor {
    dynamic "columns" {
      for_each = concat(local.columns, [{ name = "dt", type = "string" }, { name = "hr", type = "string" }])
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

resource "aws_glue_catalog_database" "lake" {
  name        = var.database_name
  description = "loglake: the Parquet lake and its quarantine"
}

resource "aws_glue_catalog_table" "logs" {
  name          = "logs"
  database_name = aws_glue_catalog_database.lake.name
  description   = "Every log record, one row per input line; partitions dt=yyyy-MM-dd/hr=HH from ts in UTC"
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    "EXTERNAL"                    = "TRUE"
    "classification"              = "parquet"
    "parquet.compression"         = "ZSTD"
    "projection.enabled"          = "true"
    "projection.dt.type"          = "date"
    "projection.dt.format"        = "yyyy-MM-dd"
    "projection.dt.range"         = "${var.lake_start_date},NOW+1DAYS"
    "projection.dt.interval"      = "1"
    "projection.dt.interval.unit" = "DAYS"
    "projection.hr.type"          = "integer"
    "projection.hr.range"         = "0,23"
    "projection.hr.digits"        = "2"
    "storage.location.template"   = "${local.logs_location}dt=$${dt}/hr=$${hr}/"
  }

  partition_keys {
    name = "dt"
    type = "string"
  }

  partition_keys {
    name = "hr"
    type = "string"
  }

  storage_descriptor {
    location      = local.logs_location
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      parameters = {
        "serialization.format" = "1"
      }
    }

    dynamic "columns" {
      for_each = local.columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

# The per-minute summary: one Parquet file per hour at
# summary/dt=YYYY-MM-DD/hr=HH/summary.parquet, partitions projected exactly
# as the logs table's (tests/test_infra.py compares them).
resource "aws_glue_catalog_table" "summary" {
  name          = "summary"
  database_name = aws_glue_catalog_database.lake.name
  description   = "One row per (minute, service): counts, error rate, latency percentiles, unique users and sessions, orders, revenue and events per type; partitions dt=yyyy-MM-dd/hr=HH from minute in UTC"
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    "EXTERNAL"                    = "TRUE"
    "classification"              = "parquet"
    "parquet.compression"         = "ZSTD"
    "projection.enabled"          = "true"
    "projection.dt.type"          = "date"
    "projection.dt.format"        = "yyyy-MM-dd"
    "projection.dt.range"         = "${var.lake_start_date},NOW+1DAYS"
    "projection.dt.interval"      = "1"
    "projection.dt.interval.unit" = "DAYS"
    "projection.hr.type"          = "integer"
    "projection.hr.range"         = "0,23"
    "projection.hr.digits"        = "2"
    "storage.location.template"   = "${local.summary_location}dt=$${dt}/hr=$${hr}/"
  }

  partition_keys {
    name = "dt"
    type = "string"
  }

  partition_keys {
    name = "hr"
    type = "string"
  }

  storage_descriptor {
    location      = local.summary_location
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      parameters = {
        "serialization.format" = "1"
      }
    }

    dynamic "columns" {
      for_each = local.summary_columns
      content {
        name    = columns.value.name
        type    = columns.value.type
        comment = columns.value.comment
      }
    }
  }
}

# Views over the summary, made as logs_dedup is: a VIRTUAL_VIEW table whose
# text is the Presto view of infra/views/<name>.sql.tftpl. Each keeps dt and
# hr, so a partition filter on the view prunes the summary's files. A
# column without a comment of its own takes the summary column's.
locals {
  summary_comment = { for c in local.summary_columns : c.name => c.comment }

  summary_views = {
    summary_errors = {
      description = "Errors per service per minute, with the error rate and the average and p95 latency"
      columns = [
        { name = "minute", type = "timestamp" },
        { name = "service", type = "string" },
        { name = "records", type = "bigint" },
        { name = "errors", type = "bigint" },
        { name = "error_pct", type = "double" },
        { name = "latency_avg_ms", type = "double" },
        { name = "latency_p95_ms", type = "double" },
      ]
    }
    summary_users = {
      description = "Unique users and sessions per service per minute (HyperLogLog estimates: do not add them up across minutes or services)"
      columns = [
        { name = "minute", type = "timestamp" },
        { name = "service", type = "string" },
        { name = "unique_users", type = "bigint" },
        { name = "unique_sessions", type = "bigint" },
      ]
    }
    summary_events = {
      description = "Records per event type per service per minute: events_by_type, one row per type"
      columns = [
        { name = "minute", type = "timestamp" },
        { name = "service", type = "string" },
        { name = "event_type", type = "string", comment = "A key of events_by_type: an event_type, or (other) for the types past the first 64" },
        { name = "events", type = "bigint", comment = "Records of that event_type in the minute and service" },
      ]
    }
    summary_revenue = {
      description = "Revenue per currency per minute, summed over services (orders are per service: the summary table's orders column)"
      columns = [
        { name = "minute", type = "timestamp" },
        { name = "currency", type = "string", comment = "A key of revenue: the orders' currency" },
        { name = "revenue", type = "double", comment = "Sum of amount in that currency over the minute's orders, all services" },
      ]
    }
  }

  # "database"."view", for the saved queries.
  summary_views_sql = { for name, t in aws_glue_catalog_table.summary_view : name => "\"${aws_glue_catalog_database.lake.name}\".\"${t.name}\"" }

  summary_view = { for name, v in local.summary_views : name => {
    originalSql = templatefile("${path.module}/../../views/${name}.sql.tftpl", { summary = local.summary })
    catalog     = "awsdatacatalog"
    schema      = aws_glue_catalog_database.lake.name
    columns = concat(
      [for c in v.columns : { name = c.name, type = local.presto_types[c.type] }],
      [{ name = "dt", type = "varchar" }, { name = "hr", type = "varchar" }],
    )
  } }
}

resource "aws_glue_catalog_table" "summary_view" {
  for_each = local.summary_views

  name               = each.key
  database_name      = aws_glue_catalog_database.lake.name
  description        = each.value.description
  table_type         = "VIRTUAL_VIEW"
  view_original_text = "/* Presto View: ${base64encode(jsonencode(local.summary_view[each.key]))} */"
  view_expanded_text = "/* Presto View */"

  parameters = {
    presto_view = "true"
    comment     = "Presto View"
  }

  storage_descriptor {
    dynamic "columns" {
      for_each = concat(each.value.columns, [{ name = "dt", type = "string" }, { name = "hr", type = "string" }])
      content {
        name    = columns.value.name
        type    = columns.value.type
        comment = lookup(columns.value, "comment", lookup(local.summary_comment, columns.value.name, null))
      }
    }
  }
}

resource "aws_glue_catalog_table" "quarantine" {
  name          = "quarantine"
  database_name = aws_glue_catalog_database.lake.name
  description   = "Every input line that could not become a row, with its source, position and reason"
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    "EXTERNAL"                    = "TRUE"
    "classification"              = "json"
    "compressionType"             = "gzip"
    "projection.enabled"          = "true"
    "projection.dt.type"          = "date"
    "projection.dt.format"        = "yyyy-MM-dd"
    "projection.dt.range"         = "${var.lake_start_date},NOW+1DAYS"
    "projection.dt.interval"      = "1"
    "projection.dt.interval.unit" = "DAYS"
    "storage.location.template"   = "${local.quarantine_location}dt=$${dt}/"
  }

  partition_keys {
    name = "dt"
    type = "string"
  }

  storage_descriptor {
    location      = local.quarantine_location
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    ser_de_info {
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
      parameters = {
        "ignore.malformed.json" = "true"
      }
    }

    dynamic "columns" {
      for_each = local.quarantine_columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

resource "aws_athena_workgroup" "lake" {
  name          = "${var.name_prefix}-lake"
  description   = "loglake queries: encrypted results, bounded scans"
  force_destroy = true

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff

    result_configuration {
      output_location = "s3://${var.athena_results_bucket}/results/"
      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }
}

# The first questions people ask of the lake. `?` is an execution parameter:
# the console asks for it (e.g. '2024-03-14' for dt, '09' for hr), the CLI
# takes --execution-parameters. Partition filters keep every scan small.
locals {
  named_queries = {
    errors-per-service-for-a-day = {
      description = "Errors (ERROR and FATAL) per service on one day. Parameter: dt."
      query       = <<-SQL
        SELECT service, count(*) AS errors
        FROM ${local.logs}
        WHERE dt = ? AND level IN ('ERROR', 'FATAL')
        GROUP BY service
        ORDER BY errors DESC
      SQL
    }
    error-summary-per-service-per-minute = {
      description = "Per service and minute: records, errors, error rate and average latency. Parameters: dt, hr."
      query       = <<-SQL
        SELECT date_trunc('minute', ts) AS minute,
               service,
               count(*) AS records,
               count_if(level IN ('ERROR', 'FATAL')) AS errors,
               round(100.0 * count_if(level IN ('ERROR', 'FATAL')) / count(*), 2) AS error_pct,
               round(avg(latency_ms), 1) AS avg_latency_ms
        FROM ${local.logs}
        WHERE dt = ? AND hr = ?
        GROUP BY 1, 2
        ORDER BY 1, 2
      SQL
    }
    p95-latency-per-endpoint = {
      description = "p50/p95/p99 latency per endpoint (path without its query string), busiest first. Parameter: dt."
      query       = <<-SQL
        SELECT service,
               http_method,
               split_part(http_path, '?', 1) AS endpoint,
               count(*) AS requests,
               round(approx_percentile(latency_ms, 0.50), 1) AS p50_ms,
               round(approx_percentile(latency_ms, 0.95), 1) AS p95_ms,
               round(approx_percentile(latency_ms, 0.99), 1) AS p99_ms
        FROM ${local.logs}
        WHERE dt = ? AND latency_ms IS NOT NULL AND http_path IS NOT NULL
        GROUP BY 1, 2, 3
        HAVING count(*) >= 20
        ORDER BY p95_ms DESC
        LIMIT 100
      SQL
    }
    checkout-conversion-funnel = {
      description = "Sessions reaching each checkout step (cart, shipping, confirmed order) and the conversion between steps. Parameter: dt."
      query       = <<-SQL
        WITH sessions AS (
          SELECT session_id,
                 bool_or(http_path LIKE '/checkout/cart%' OR event_type IN ('checkout_started', 'begin_checkout')) AS cart,
                 bool_or(http_path LIKE '/checkout/shipping%' OR event_type IN ('add_shipping_info', 'shipping_submitted')) AS shipping,
                 bool_or((http_path LIKE '/checkout/confirm%' AND coalesce(http_status, 200) < 400)
                         OR event_type IN ('order_placed', 'purchase', 'checkout_completed')) AS confirmed
          FROM ${local.logs}
          WHERE dt = ? AND session_id IS NOT NULL
          GROUP BY session_id
        )
        SELECT count_if(cart) AS reached_cart,
               count_if(cart AND shipping) AS reached_shipping,
               count_if(cart AND shipping AND confirmed) AS confirmed_orders,
               round(100.0 * count_if(cart AND shipping) / nullif(count_if(cart), 0), 2) AS cart_to_shipping_pct,
               round(100.0 * count_if(cart AND shipping AND confirmed) / nullif(count_if(cart AND shipping), 0), 2) AS shipping_to_order_pct,
               round(100.0 * count_if(cart AND shipping AND confirmed) / nullif(count_if(cart), 0), 2) AS conversion_pct
        FROM sessions
      SQL
    }
    unique-users-per-minute = {
      description = "Distinct users per minute (approximate, HyperLogLog). Parameters: dt, hr."
      query       = <<-SQL
        SELECT date_trunc('minute', ts) AS minute,
               approx_distinct(user_id) AS users
        FROM ${local.logs}
        WHERE dt = ? AND hr = ? AND user_id IS NOT NULL
        GROUP BY 1
        ORDER BY 1
      SQL
    }
    top-failing-paths = {
      description = "Endpoints with the most server errors (5xx or ERROR/FATAL records), with their share of all requests. Parameter: dt."
      query       = <<-SQL
        SELECT service,
               split_part(http_path, '?', 1) AS endpoint,
               count_if(http_status >= 500 OR level IN ('ERROR', 'FATAL')) AS failures,
               count(*) AS requests,
               round(100.0 * count_if(http_status >= 500 OR level IN ('ERROR', 'FATAL')) / count(*), 2) AS failure_pct
        FROM ${local.logs}
        WHERE dt = ? AND http_path IS NOT NULL
        GROUP BY 1, 2
        HAVING count_if(http_status >= 500 OR level IN ('ERROR', 'FATAL')) > 0
        ORDER BY failures DESC
        LIMIT 25
      SQL
    }
    top-client-ips-by-5xx = {
      description = "Client IPs receiving the most 5xx responses. Parameter: dt."
      query       = <<-SQL
        SELECT client_ip,
               count(*) AS responses_5xx,
               count(DISTINCT split_part(http_path, '?', 1)) AS endpoints,
               min(ts) AS first_seen,
               max(ts) AS last_seen
        FROM ${local.logs}
        WHERE dt = ? AND http_status BETWEEN 500 AND 599 AND client_ip IS NOT NULL
        GROUP BY client_ip
        ORDER BY responses_5xx DESC
        LIMIT 25
      SQL
    }
    vpc-top-rejected-sources-for-a-day = {
      description = "VPC Flow Logs: the source addresses with the most rejected flows, and the ports they tried. Parameter: dt."
      query       = <<-SQL
        SELECT client_ip AS srcaddr,
               count(*) AS rejected_flows,
               count(DISTINCT element_at(attributes, 'dstport')) AS ports,
               array_join(slice(array_agg(DISTINCT element_at(attributes, 'dstport')), 1, 10), ',') AS some_ports,
               min(ts) AS first_seen,
               max(ts) AS last_seen
        FROM ${local.logs}
        WHERE dt = ? AND source_format = 'vpcflow' AND element_at(attributes, 'action') = 'REJECT'
        GROUP BY client_ip
        ORDER BY rejected_flows DESC
        LIMIT 25
      SQL
    }
    # AWS's own logs (docs/formats.md, "AWS's own logs"): CloudTrail's
    # eventName is event_type, errorCode error_type, userIdentity.arn
    # user_id; WAF's action is event_type. Fields without a column are
    # attributes under their dotted names, read with element_at (a
    # subscript fails on a row without the key).
    cloudtrail-access-denied-by-principal-for-a-day = {
      description = "CloudTrail: calls refused for lack of permission, per principal and API, the principals refused most first. Parameter: dt."
      query       = <<-SQL
        SELECT user_id,
               service,
               event_type,
               count(*) AS denied,
               sum(count(*)) OVER (PARTITION BY user_id) AS denied_for_principal,
               array_join(slice(array_agg(DISTINCT client_ip), 1, 5), ',') AS some_source_ips,
               min(ts) AS first_seen,
               max(ts) AS last_seen
        FROM ${local.logs}
        WHERE dt = ? AND source_format = 'cloudtrail'
          AND error_type IN ('AccessDenied', 'AccessDeniedException', 'Client.UnauthorizedOperation', 'UnauthorizedOperation')
        GROUP BY user_id, service, event_type
        ORDER BY denied_for_principal DESC, denied DESC
        LIMIT 100
      SQL
    }
    cloudtrail-console-logins-without-mfa-for-a-day = {
      description = "CloudTrail: successful console sign-ins without MFA, per principal, with the addresses they came from. Parameter: dt."
      query       = <<-SQL
        SELECT user_id,
               element_at(attributes, 'userIdentity.type') AS identity_type,
               count(*) AS logins,
               array_join(slice(array_agg(DISTINCT client_ip), 1, 10), ',') AS some_source_ips,
               min(ts) AS first_seen,
               max(ts) AS last_seen
        FROM ${local.logs}
        WHERE dt = ? AND source_format = 'cloudtrail' AND event_type = 'ConsoleLogin'
          AND element_at(attributes, 'additionalEventData.MFAUsed') = 'No'
          AND element_at(attributes, 'responseElements.ConsoleLogin') = 'Success'
        GROUP BY 1, 2
        ORDER BY logins DESC
        LIMIT 100
      SQL
    }
    cloudtrail-root-account-use-for-a-day = {
      description = "CloudTrail: every sign-in and API call of the root user (AWS's own service events on the account left out), in time order. Parameter: dt."
      query       = <<-SQL
        SELECT ts,
               service,
               event_type,
               element_at(attributes, 'eventType') AS cloudtrail_event_type,
               error_type,
               client_ip,
               user_agent,
               region,
               user_id
        FROM ${local.logs}
        WHERE dt = ? AND source_format = 'cloudtrail'
          AND element_at(attributes, 'userIdentity.type') = 'Root'
          AND coalesce(element_at(attributes, 'eventType'), '') <> 'AwsServiceEvent'
        ORDER BY ts
        LIMIT 1000
      SQL
    }
    waf-top-blocked-ips-for-a-day = {
      description = "AWS WAF: the client IPs with the most blocked requests, their country and the rules that blocked them. Parameter: dt."
      query       = <<-SQL
        SELECT client_ip,
               element_at(attributes, 'httpRequest.country') AS country,
               count(*) AS blocked,
               count(DISTINCT element_at(attributes, 'terminatingRuleId')) AS rules,
               array_join(slice(array_agg(DISTINCT element_at(attributes, 'terminatingRuleId')), 1, 5), ',') AS some_rules,
               min(ts) AS first_seen,
               max(ts) AS last_seen
        FROM ${local.logs}
        WHERE dt = ? AND source_format = 'waf' AND event_type = 'BLOCK'
        GROUP BY 1, 2
        ORDER BY blocked DESC
        LIMIT 25
      SQL
    }
    waf-top-terminating-rules-for-a-day = {
      description = "AWS WAF: requests per terminating rule and action (BLOCK, ALLOW, COUNT, CAPTCHA, CHALLENGE), with how many clients each met. Parameter: dt."
      query       = <<-SQL
        SELECT element_at(attributes, 'terminatingRuleId') AS terminating_rule,
               event_type AS action,
               count(*) AS requests,
               count(DISTINCT client_ip) AS client_ips,
               min(ts) AS first_seen,
               max(ts) AS last_seen
        FROM ${local.logs}
        WHERE dt = ? AND source_format = 'waf'
        GROUP BY 1, 2
        ORDER BY requests DESC
        LIMIT 50
      SQL
    }
    # From the summary (a few KB an hour) rather than the logs: these scan
    # almost nothing.
    summary-errors-per-service-for-an-hour = {
      description = "From the summary: records, errors, error rate and the worst minute's p95 latency per service in one hour. Parameters: dt, hr."
      query       = <<-SQL
        SELECT service,
               sum(records) AS records,
               sum(errors) AS errors,
               round(100.0 * sum(errors) / nullif(sum(records), 0), 2) AS error_pct,
               round(max(latency_p95_ms), 1) AS worst_minute_p95_ms
        FROM ${local.summary_views_sql["summary_errors"]}
        WHERE dt = ? AND hr = ?
        GROUP BY service
        ORDER BY errors DESC
      SQL
    }
    summary-revenue-per-currency-for-a-day = {
      description = "From the summary: revenue per currency on one day, all services. Parameter: dt."
      query       = <<-SQL
        SELECT currency,
               round(sum(revenue), 2) AS revenue
        FROM ${local.summary_views_sql["summary_revenue"]}
        WHERE dt = ?
        GROUP BY currency
        ORDER BY revenue DESC
      SQL
    }
    summary-top-event-types-for-a-day = {
      description = "From the summary: the most frequent event types on one day, with the services that sent them. Parameter: dt."
      query       = <<-SQL
        SELECT event_type,
               sum(events) AS events,
               count(DISTINCT service) AS services
        FROM ${local.summary_views_sql["summary_events"]}
        WHERE dt = ?
        GROUP BY event_type
        ORDER BY events DESC
        LIMIT 25
      SQL
    }
    quarantine-by-reason = {
      description = "Quarantined lines per reason and source on one day. Parameter: dt."
      query       = <<-SQL
        SELECT reason, source_uri, count(*) AS lines
        FROM "${aws_glue_catalog_database.lake.name}"."${aws_glue_catalog_table.quarantine.name}"
        WHERE dt = ?
        GROUP BY 1, 2
        ORDER BY lines DESC
        LIMIT 100
      SQL
    }
  }
}

resource "aws_athena_named_query" "this" {
  for_each = local.named_queries

  name        = each.key
  description = each.value.description
  workgroup   = aws_athena_workgroup.lake.id
  database    = aws_glue_catalog_database.lake.name
  query       = each.value.query
}
