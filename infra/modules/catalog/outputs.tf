output "database_name" {
  value = aws_glue_catalog_database.lake.name
}

output "logs_table" {
  value = aws_glue_catalog_table.logs.name
}

output "quarantine_table" {
  value = aws_glue_catalog_table.quarantine.name
}

output "workgroup" {
  value = aws_athena_workgroup.lake.name
}

output "named_queries" {
  value = { for k, q in aws_athena_named_query.this : k => q.id }
}

output "summary_table" {
  value = aws_glue_catalog_table.summary.name
}

output "summary_views" {
  value = sort([for v in aws_glue_catalog_table.summary_view : v.name])
}
