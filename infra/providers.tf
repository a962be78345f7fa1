provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ project = "loglake", deployment = var.name_prefix }, var.tags)
  }
}

# Only used when enable_search is true: it applies the index template and the
# ISM policy to the domain, signing requests with the caller's AWS identity
# (which must be the domain's master user, see search_master_user_arn). When
# search is off no resource uses it and it never connects anywhere.
provider "opensearch" {
  url                   = coalesce(one(module.search[*].endpoint_url), "https://search-disabled.invalid")
  aws_region            = var.region
  sign_aws_requests     = true
  aws_signature_service = "es"
  healthcheck           = false
}
