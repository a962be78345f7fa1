terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70, < 7.0"
    }
    opensearch = {
      source  = "opensearch-project/opensearch"
      version = "~> 2.3"
    }
  }

  # 1.9: collect_regions is validated against var.region.
  #
  # State is local by default. For a team, or for the CodePipeline deploy
  # stage, copy backend.tf.example to backend.tf (S3 state with a lock file).
}
