output "pipeline_name" {
  description = "Name of the CodePipeline (<prefix>-pipeline)."
  value       = aws_codepipeline.this.name
}

output "connection_arn" {
  description = "Complete this connection's handshake in the console once if it was created here."
  value       = local.connection_arn
}

output "artifact_bucket" {
  description = "Name of the pipeline's artifact bucket (encrypted with the pipeline key; artifacts expire after 30 days)."
  value       = module.artifacts.id
}
