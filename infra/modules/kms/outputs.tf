output "key_arn" {
  description = "ARN of the customer managed key (yearly rotation, 30-day deletion window)."
  value       = aws_kms_key.this.arn
}

output "key_id" {
  description = "ID of the key."
  value       = aws_kms_key.this.key_id
}
