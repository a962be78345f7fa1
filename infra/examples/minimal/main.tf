# The smallest deployment: the root module with its defaults. It has no
# required inputs, so this deploys the lake in eu-west-1 under the prefix
# "loglake": the buckets, the Glue tables and Athena workgroup, the file
# path (S3 -> SQS -> fn-ingest), the real-time path (Kinesis -> fn-stream ->
# Firehose), content alerts (alerts.toml at the repository root) and the
# alarms and dashboards. Search, the HTTP collector, collect regions and
# CI/CD are off. The zips come from `make package` (target/lambda at the
# repository root).

# The root module configures the aws (and opensearch) providers itself, from
# its region input, because it is also deployed directly from infra/; it
# cannot be given this configuration. This block is for whatever you add next
# to the module, in the same region.
provider "aws" {
  region = "eu-west-1"
}

module "loglake" {
  source = "../.."
}
