# The delivery pipeline: source from a CodeStar (CodeConnections) connection,
# a build that runs `make test`, `make package` and `terraform plan -out`
# (buildspec.yml at the repository root), a manual approval of that plan, and
# a deploy that applies exactly the approved plan. Each stage has its own role;
# the build can only read the deployment's resources, only the deploy stage can
# change them, and both only resources named with the prefix.

locals {
  name           = "${var.name_prefix}-pipeline"
  connection_arn = var.connection_arn != "" ? var.connection_arn : aws_codestarconnections_connection.repo[0].arn
  arn            = "arn:${var.partition}"
  at             = "${var.region}:${var.account_id}"
  p              = var.name_prefix
  state_object   = "arn:${var.partition}:s3:::${var.state_bucket}/${var.state_key}"
}

resource "aws_codestarconnections_connection" "repo" {
  count = var.connection_arn == "" ? 1 : 0

  # Created PENDING: complete the handshake once in the console
  # (Developer Tools > Settings > Connections) before the first run.
  name          = substr("${var.name_prefix}-repo", 0, 32)
  provider_type = var.connection_provider
}

# --- artifact bucket ---------------------------------------------------------

module "artifacts" {
  source = "../storage/bucket"

  name          = "${var.name_prefix}-pipeline-${var.account_id}-${var.region}"
  account_id    = var.account_id
  kms_key_arn   = var.kms_key_arn
  versioning    = true
  force_destroy = true
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = module.artifacts.id
  rule {
    id     = "expire-artifacts"
    status = "Enabled"
    filter {}
    expiration {
      days = 30
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# --- roles -----------------------------------------------------------------

data "aws_iam_policy_document" "assume_codebuild" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["codebuild.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

data "aws_iam_policy_document" "assume_codepipeline" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["codepipeline.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_cloudwatch_log_group" "build" {
  #checkov:skip=CKV_AWS_338:retention is var.log_retention_days (default 30): operational logs of the pipeline, whose data is kept in the lake; raise it where policy asks for a year
  for_each = toset(["build", "deploy"])

  name              = "/aws/codebuild/${local.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# The role policies are rendered from infra/policies/cicd-*.json.tftpl (see
# its README). What both CodeBuild stages need: their logs, the artifacts,
# the key, and the Terraform state (read, plus the S3 lock file next to it).
locals {
  codebuild_common_policy = templatefile("${path.module}/../../policies/cicd-build-common.json.tftpl", {
    build_log_group_arn  = aws_cloudwatch_log_group.build["build"].arn
    deploy_log_group_arn = aws_cloudwatch_log_group.build["deploy"].arn
    artifact_bucket_arn  = module.artifacts.arn
    state_object_arn     = local.state_object
    state_bucket_arn     = "arn:${var.partition}:s3:::${var.state_bucket}"
    kms_key_arn          = var.kms_key_arn
  })
}

# Read access to what the deployment manages, for `terraform plan` to refresh.
# Resources are named with the prefix; the few actions AWS only grants on "*"
# (listing, describing, identity) are in their own statement.
locals {
  managed_resources = [
    "${local.arn}:s3:::${local.p}-*",
    "${local.arn}:sqs:${local.at}:${local.p}-*",
    "${local.arn}:lambda:${local.at}:function:${local.p}-*",
    "${local.arn}:lambda:${local.at}:event-source-mapping:*",
    "${local.arn}:iam::${var.account_id}:role/${local.p}-*",
    "${local.arn}:logs:${local.at}:log-group:/aws/lambda/${local.p}-*",
    "${local.arn}:logs:${local.at}:log-group:/aws/kinesisfirehose/${local.p}-*",
    "${local.arn}:logs:${local.at}:log-group:/aws/opensearch/${local.p}-*",
    "${local.arn}:logs:${local.at}:log-group:/aws/codebuild/${local.p}-*",
    "${local.arn}:kinesis:${local.at}:stream/${local.p}-*",
    "${local.arn}:firehose:${local.at}:deliverystream/${local.p}-*",
    "${local.arn}:glue:${local.at}:catalog",
    "${local.arn}:glue:${local.at}:database/${replace(local.p, "-", "_")}",
    "${local.arn}:glue:${local.at}:table/${replace(local.p, "-", "_")}/*",
    "${local.arn}:athena:${local.at}:workgroup/${local.p}-*",
    "${local.arn}:sns:${local.at}:${local.p}-*",
    "${local.arn}:dynamodb:${local.at}:table/${local.p}-*",
    "${local.arn}:events:${local.at}:rule/${local.p}-*",
    "${local.arn}:cloudwatch:${local.at}:alarm:${local.p}-*",
    "${local.arn}:cloudwatch::${var.account_id}:dashboard/${local.p}-*",
    "${local.arn}:kms:${local.at}:key/*",
    "${local.arn}:kms:${local.at}:alias/${local.p}",
    "${local.arn}:es:${local.at}:domain/${local.p}-*",
    "${local.arn}:codebuild:${local.at}:project/${local.p}-*",
    "${local.arn}:codepipeline:${local.at}:${local.p}-*",
    "${local.arn}:codestar-connections:${local.at}:connection/*",
    "${local.arn}:codeconnections:${local.at}:connection/*",
    "${local.arn}:ec2:${local.at}:security-group/*",
    "${local.arn}:ec2:${local.at}:security-group-rule/*",
    "${local.arn}:ec2:${local.at}:vpc/*",
  ]

  plan_read_policy = templatefile("${path.module}/../../policies/cicd-plan-read.json.tftpl", {
    managed_resources = jsonencode(local.managed_resources)
  })
}

resource "aws_iam_role" "build" {
  name               = "${local.name}-build"
  assume_role_policy = data.aws_iam_policy_document.assume_codebuild.json
}

resource "aws_iam_role_policy" "build_common" {
  name   = "common"
  role   = aws_iam_role.build.id
  policy = local.codebuild_common_policy
}

resource "aws_iam_role_policy" "build_read" {
  name   = "plan-read"
  role   = aws_iam_role.build.id
  policy = local.plan_read_policy
}

resource "aws_iam_role" "deploy" {
  name               = "${local.name}-deploy"
  assume_role_policy = data.aws_iam_policy_document.assume_codebuild.json
}

resource "aws_iam_role_policy" "deploy_common" {
  name   = "common"
  role   = aws_iam_role.deploy.id
  policy = local.codebuild_common_policy
}

resource "aws_iam_role_policy" "deploy_read" {
  name   = "plan-read"
  role   = aws_iam_role.deploy.id
  policy = local.plan_read_policy
}

# Changes to what the deployment manages, for the deploy stage only.
resource "aws_iam_role_policy" "deploy_write" {
  name = "apply-write"
  role = aws_iam_role.deploy.id
  policy = templatefile("${path.module}/../../policies/cicd-apply-write.json.tftpl", {
    managed_resources = jsonencode(local.managed_resources)
    partition         = var.partition
    account_id        = var.account_id
  })
}

resource "aws_iam_role" "pipeline" {
  name               = local.name
  assume_role_policy = data.aws_iam_policy_document.assume_codepipeline.json
}

resource "aws_iam_role_policy" "pipeline" {
  name = "pipeline"
  role = aws_iam_role.pipeline.id
  policy = templatefile("${path.module}/../../policies/cicd-pipeline.json.tftpl", {
    artifact_bucket_arn = module.artifacts.arn
    kms_key_arn         = var.kms_key_arn
    connection_arn      = local.connection_arn
    build_project_arn   = aws_codebuild_project.build.arn
    deploy_project_arn  = aws_codebuild_project.deploy.arn
    approval_topic_arn  = var.approval_topic_arn
  })
}

# --- builds ------------------------------------------------------------------

locals {
  build_environment = {
    TF_STATE_BUCKET = var.state_bucket
    TF_STATE_KEY    = var.state_key
    TF_STATE_REGION = var.region
    TF_VAR_region   = var.region
  }
}

resource "aws_codebuild_project" "build" {
  name           = "${local.name}-build"
  description    = "loglake: make test, make package, terraform plan -out"
  service_role   = aws_iam_role.build.arn
  encryption_key = var.kms_key_arn
  build_timeout  = 90

  source {
    type      = "CODEPIPELINE"
    buildspec = "buildspec.yml"
  }

  artifacts {
    type = "CODEPIPELINE"
  }

  environment {
    # Native arm64: cargo lambda builds the arm64 zips without emulation.
    compute_type    = "BUILD_GENERAL1_LARGE"
    image           = "aws/codebuild/amazonlinux-aarch64-standard:3.0"
    type            = "ARM_CONTAINER"
    privileged_mode = false

    dynamic "environment_variable" {
      for_each = local.build_environment
      content {
        name  = environment_variable.key
        value = environment_variable.value
      }
    }
  }

  logs_config {
    cloudwatch_logs {
      group_name = aws_cloudwatch_log_group.build["build"].name
    }
  }
}

resource "aws_codebuild_project" "deploy" {
  name           = "${local.name}-deploy"
  description    = "loglake: terraform apply of the approved plan"
  service_role   = aws_iam_role.deploy.arn
  encryption_key = var.kms_key_arn
  build_timeout  = 60

  source {
    type      = "CODEPIPELINE"
    buildspec = file("${path.module}/deploy-buildspec.yml")
  }

  artifacts {
    type = "CODEPIPELINE"
  }

  environment {
    compute_type    = "BUILD_GENERAL1_SMALL"
    image           = "aws/codebuild/amazonlinux-aarch64-standard:3.0"
    type            = "ARM_CONTAINER"
    privileged_mode = false

    dynamic "environment_variable" {
      for_each = local.build_environment
      content {
        name  = environment_variable.key
        value = environment_variable.value
      }
    }
  }

  logs_config {
    cloudwatch_logs {
      group_name = aws_cloudwatch_log_group.build["deploy"].name
    }
  }
}

# --- pipeline ----------------------------------------------------------------

resource "aws_codepipeline" "this" {
  name          = local.name
  role_arn      = aws_iam_role.pipeline.arn
  pipeline_type = "V2"

  artifact_store {
    location = module.artifacts.id
    type     = "S3"
    encryption_key {
      id   = var.kms_key_arn
      type = "KMS"
    }
  }

  stage {
    name = "Source"
    action {
      name             = "Source"
      category         = "Source"
      owner            = "AWS"
      provider         = "CodeStarSourceConnection"
      version          = "1"
      output_artifacts = ["source"]
      configuration = {
        ConnectionArn        = local.connection_arn
        FullRepositoryId     = var.repository
        BranchName           = var.branch
        OutputArtifactFormat = "CODE_ZIP"
      }
    }
  }

  stage {
    name = "Build"
    action {
      name             = "TestPackagePlan"
      category         = "Build"
      owner            = "AWS"
      provider         = "CodeBuild"
      version          = "1"
      input_artifacts  = ["source"]
      output_artifacts = ["plan"]
      configuration = {
        ProjectName = aws_codebuild_project.build.name
      }
    }
  }

  stage {
    name = "Approve"
    action {
      name     = "ReviewPlan"
      category = "Approval"
      owner    = "AWS"
      provider = "Manual"
      version  = "1"
      configuration = {
        NotificationArn = var.approval_topic_arn
        CustomData      = "Review the plan printed in the build log (terraform show tfplan) before approving."
      }
    }
  }

  stage {
    name = "Deploy"
    action {
      name            = "Apply"
      category        = "Build"
      owner           = "AWS"
      provider        = "CodeBuild"
      version         = "1"
      input_artifacts = ["plan"]
      configuration = {
        ProjectName = aws_codebuild_project.deploy.name
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.repository != "" && var.state_bucket != ""
      error_message = "enable_cicd needs cicd_repository (owner/name) and cicd_state_bucket (the S3 state backend, see backend.tf.example)."
    }
  }
}
