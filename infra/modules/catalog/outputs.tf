output "database_name" {
  description = "Name of the Glue database holding the lake's tables and views."
  value       = aws_glue_catalog_database.lake.name
}

output "logs_table" {
  description = "Name of the Glue table over curated logs/ (Parquet, partitioned by dt and hr with partition projection)."
  value       = aws_glue_catalog_table.logs.name
}

output "quarantine_table" {
  description = "Name of the Glue table over curated quarantine/: the input lines that could not be parsed, one row each."
  value       = aws_glue_catalog_table.quarantine.name
}

output "workgroup" {
  description = "Name of the Athena workgroup (<prefix>-lake): encrypted results and the per-query scan limit."
  value       = aws_athena_workgroup.lake.name
}

output "named_queries" {
  description = "IDs of the saved Athena queries, by name."
  value       = { for k, q in aws_athena_named_query.this : k => q.id }
}

output "summary_table" {
  description = "Name of the Glue table over curated summary/: one row per minute and service, written by fn-alerts."
  value       = aws_glue_catalog_table.summary.name
}

output "summary_views" {
  description = "Names of the Athena views over the summary table, sorted."
  value       = sort([for v in aws_glue_catalog_table.summary_view : v.name])
}
