# Only the opensearch provider: the root configures it for the domain, signing
# as the caller (the domain's master user). terraform_data is built in.
terraform {
  required_version = ">= 1.9.0"

  required_providers {
    opensearch = {
      source  = "opensearch-project/opensearch"
      version = "~> 2.3"
    }
  }
}
