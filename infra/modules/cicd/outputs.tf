output "pipeline_name" {
  value = aws_codepipeline.this.name
}

output "connection_arn" {
  description = "Complete this connection's handshake in the console once if it was created here."
  value       = local.connection_arn
}

output "artifact_bucket" {
  value = module.artifacts.id
}
