# Every resource here is created with the provider the root passes as aws
# (one of aws.collect_1..3, configured for var.region); the modules it calls
# inherit it.
terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70, < 7.0"
    }
  }
}
