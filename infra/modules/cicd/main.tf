# The delivery pipeline: source from a CodeStar (CodeConnections) connection,
# a build that runs `make test` and `make package` (buildspec.yml at the
# repository root), a plan of the reviewed Terraform against those zips
# (plan-buildspec.yml), a manual approval of that plan, and a deploy that
# applies exactly the approved plan (deploy-buildspec.yml), then releases
# the versions it published: a CodeDeploy deployment per function whose live
# alias is behind (release-buildspec.yml, scripts/deploy-functions.py),
# failing the pipeline when one fails or rolls back. Each step has its own
# role. The build, which compiles third-party crates and installs PyPI
# packages, reaches only its logs, the artifacts and the pipeline's own key:
# no Terraform state, no data bucket, no data key. The plan reads the
# deployment's resources (never their data) and the state; only the deploy
# stage changes them, and the release role may only start and follow
# CodeDeploy deployments of the deployment's functions. Every role carries
# the deployment's permission boundary (modules/boundary).

locals {
  name           = "${var.name_prefix}-pipeline"
  connection_arn = var.connection_arn != "" ? var.connection_arn : aws_codestarconnections_connection.repo[0].arn
  arn            = "arn:${var.partition}"
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
  kms_key_arn   = var.pipeline_key_arn
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
  for_each = toset(["build", "plan", "deploy", "release"])

  name              = "/aws/codebuild/${local.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.pipeline_key_arn
}

# The role policies are rendered from infra/policies/cicd-*.json.tftpl (see
# its README). Each CodeBuild stage gets `common`: its own log group, the
# artifacts and the pipeline key (cicd-build-common). The plan and deploy
# stages add the Terraform state (cicd-state: the object and the S3 lock file
# next to it) and `plan-read`; the deploy stage `apply-write`.
#
# plan-read is a managed policy attached to both: IAM caps a role's inline
# policies at 10,240 characters in all, which the deploy role's would exceed.
# Like the boundary, the deploy stage cannot change it (no iam:*Policy*
# grant): a change to it, or to the managed resources it names, takes an
# administrator's apply.
locals {
  state_policy = templatefile("${path.module}/../../policies/cicd-state.json.tftpl", {
    state_object_arn = local.state_object
    state_bucket_arn = "arn:${var.partition}:s3:::${var.state_bucket}"
  })

  # Read access to what the deployment manages (var.managed_resources, from
  # modules/boundary), for `terraform plan` to refresh; the few actions AWS
  # only grants on "*" (listing, describing, identity) are in ReadUnscoped.
  # `s3:Get*` on the buckets' pattern also matches every object in them
  # (an ARN pattern's * spans the "/"), so object reads are denied outright
  # except for the artifacts, the state and the configuration objects
  # Terraform itself uploads (the alert rules under _config/ of the curated
  # bucket, which it reads back with HeadObject and GetObjectTagging: both
  # s3:GetObject*; their text is the repository's): a Deny with NotResource, because
  # one statement cannot name both the data buckets' objects (Resource) and
  # the artifact bucket's exception (NotResource), and a Deny cannot be
  # undone by an Allow. Reading stream records, log events and query results
  # is denied too (DenyDataReads). The data key is granted only for Lambda to
  # decrypt the functions' environment when Terraform reads them
  # (kms:ViaService): Lambda does that with the caller's permission.
  plan_read_policy = templatefile("${path.module}/../../policies/cicd-plan-read.json.tftpl", {
    managed_resources   = jsonencode(var.managed_resources)
    artifact_bucket_arn = module.artifacts.arn
    state_object_arn    = local.state_object
    config_objects_arn  = var.config_objects_arn
    data_key_arn        = var.data_key_arn
    region              = var.region
  })

  # The only roles the deploy stage may pass: the functions' (modules/lambda
  # names them <prefix>-<binary>) to Lambda, and, each to its one service,
  # Firehose's (modules/stream) and the pipeline's own, which updating the
  # delivery stream, the CodeBuild projects and the pipeline passes again.
  function_role_arns = [
    "${local.arn}:iam::${var.account_id}:role/${local.p}-fn-ingest",
    "${local.arn}:iam::${var.account_id}:role/${local.p}-fn-stream",
    "${local.arn}:iam::${var.account_id}:role/${local.p}-fn-alerts",
    "${local.arn}:iam::${var.account_id}:role/${local.p}-fn-collect",
    "${local.arn}:iam::${var.account_id}:role/${local.p}-fn-canary",
  ]
}

# The build runs `make test` and `make package`: third-party code. It can
# write its logs, read its source and write the zips to the artifact bucket,
# with the pipeline key; nothing else.
resource "aws_iam_role" "build" {
  name                 = "${local.name}-build"
  assume_role_policy   = data.aws_iam_policy_document.assume_codebuild.json
  permissions_boundary = var.permissions_boundary
}

resource "aws_iam_role_policy" "build_common" {
  name = "common"
  role = aws_iam_role.build.id
  policy = templatefile("${path.module}/../../policies/cicd-build-common.json.tftpl", {
    log_group_arn       = aws_cloudwatch_log_group.build["build"].arn
    artifact_bucket_arn = module.artifacts.arn
    pipeline_key_arn    = var.pipeline_key_arn
  })
}

# The plan: terraform init, plan and show, with the reviewed Terraform from
# the source and the zips from the build.
resource "aws_iam_role" "plan" {
  name                 = "${local.name}-plan"
  assume_role_policy   = data.aws_iam_policy_document.assume_codebuild.json
  permissions_boundary = var.permissions_boundary
}

resource "aws_iam_role_policy" "plan_common" {
  name = "common"
  role = aws_iam_role.plan.id
  policy = templatefile("${path.module}/../../policies/cicd-build-common.json.tftpl", {
    log_group_arn       = aws_cloudwatch_log_group.build["plan"].arn
    artifact_bucket_arn = module.artifacts.arn
    pipeline_key_arn    = var.pipeline_key_arn
  })
}

resource "aws_iam_role_policy" "plan_state" {
  name   = "state"
  role   = aws_iam_role.plan.id
  policy = local.state_policy
}

resource "aws_iam_policy" "plan_read" {
  name        = "${local.name}-plan-read"
  description = "${var.name_prefix}: what the pipeline's plan and deploy stages read (never the data)"
  policy      = local.plan_read_policy
}

resource "aws_iam_role_policy_attachment" "plan_read" {
  role       = aws_iam_role.plan.name
  policy_arn = aws_iam_policy.plan_read.arn
}

resource "aws_iam_role" "deploy" {
  name                 = "${local.name}-deploy"
  assume_role_policy   = data.aws_iam_policy_document.assume_codebuild.json
  permissions_boundary = var.permissions_boundary
}

resource "aws_iam_role_policy" "deploy_common" {
  name = "common"
  role = aws_iam_role.deploy.id
  policy = templatefile("${path.module}/../../policies/cicd-build-common.json.tftpl", {
    log_group_arn       = aws_cloudwatch_log_group.build["deploy"].arn
    artifact_bucket_arn = module.artifacts.arn
    pipeline_key_arn    = var.pipeline_key_arn
  })
}

resource "aws_iam_role_policy" "deploy_state" {
  name   = "state"
  role   = aws_iam_role.deploy.id
  policy = local.state_policy
}

resource "aws_iam_role_policy_attachment" "deploy_read" {
  role       = aws_iam_role.deploy.name
  policy_arn = aws_iam_policy.plan_read.arn
}

# Changes to what the deployment manages, for the deploy stage only. Roles
# only with the boundary (iam:PermissionsBoundary); PassRole only of the
# roles above, each to its service (iam:PassedToService). The boundary
# itself it can read but not change: that takes an administrator's apply.
resource "aws_iam_role_policy" "deploy_write" {
  name = "apply-write"
  role = aws_iam_role.deploy.id
  policy = templatefile("${path.module}/../../policies/cicd-apply-write.json.tftpl", {
    managed_resources        = jsonencode(var.managed_resources)
    partition                = var.partition
    account_id               = var.account_id
    name_prefix              = var.name_prefix
    permissions_boundary_arn = var.permissions_boundary
    function_role_arns       = jsonencode(local.function_role_arns)
    firehose_role_arn        = "${local.arn}:iam::${var.account_id}:role/${local.p}-firehose"
    codedeploy_role_arn      = "${local.arn}:iam::${var.account_id}:role/${local.p}-codedeploy"
    build_role_arn           = aws_iam_role.build.arn
    plan_role_arn            = aws_iam_role.plan.arn
    deploy_role_arn          = aws_iam_role.deploy.arn
    release_role_arn         = aws_iam_role.release.arn
    pipeline_role_arn        = aws_iam_role.pipeline.arn
  })
}

# The release: after the apply, a CodeDeploy deployment per function whose
# live alias is behind its latest version (scripts/deploy-functions.py, from
# the deployments the apply wrote), followed until it succeeds, fails or
# rolls back. It reads no state and changes nothing but the deployments'
# traffic, through CodeDeploy: creating deployments of the deployment's
# groups, registering and reading their revisions (the AppSpec), reading the
# predefined configuration, and reading the aliases and versions it compares.
resource "aws_iam_role" "release" {
  name                 = "${local.name}-release"
  assume_role_policy   = data.aws_iam_policy_document.assume_codebuild.json
  permissions_boundary = var.permissions_boundary
}

resource "aws_iam_role_policy" "release_common" {
  name = "common"
  role = aws_iam_role.release.id
  policy = templatefile("${path.module}/../../policies/cicd-build-common.json.tftpl", {
    log_group_arn       = aws_cloudwatch_log_group.build["release"].arn
    artifact_bucket_arn = module.artifacts.arn
    pipeline_key_arn    = var.pipeline_key_arn
  })
}

resource "aws_iam_role_policy" "release" {
  name = "release"
  role = aws_iam_role.release.id
  policy = templatefile("${path.module}/../../policies/cicd-release.json.tftpl", {
    deployment_group_arns = jsonencode(var.deploy_group_arns)
    application_arn       = var.deploy_application_arn
    deployment_config_arn = "${local.arn}:codedeploy:${var.region}:${var.account_id}:deploymentconfig:${var.deployment_config}"
    function_arns         = jsonencode(var.deploy_function_arns)
  })
}

resource "aws_iam_role" "pipeline" {
  name                 = local.name
  assume_role_policy   = data.aws_iam_policy_document.assume_codepipeline.json
  permissions_boundary = var.permissions_boundary
}

# The approval notice goes to the alerts topic, encrypted with the data key:
# publishing to it takes the key, through SNS only (kms:ViaService).
resource "aws_iam_role_policy" "pipeline" {
  name = "pipeline"
  role = aws_iam_role.pipeline.id
  policy = templatefile("${path.module}/../../policies/cicd-pipeline.json.tftpl", {
    artifact_bucket_arn    = module.artifacts.arn
    pipeline_key_arn       = var.pipeline_key_arn
    connection_arn         = local.connection_arn
    build_project_arn      = aws_codebuild_project.build.arn
    plan_project_arn       = aws_codebuild_project.plan.arn
    deploy_project_arn     = aws_codebuild_project.deploy.arn
    release_project_arn    = aws_codebuild_project.release.arn
    approval_topic_arn     = var.approval_topic_arn
    approval_topic_key_arn = var.data_key_arn
    region                 = var.region
  })
}

# --- builds ------------------------------------------------------------------

locals {
  # Only the plan and deploy stages run Terraform, so only they are told
  # where its state is.
  terraform_environment = {
    TF_STATE_BUCKET = var.state_bucket
    TF_STATE_KEY    = var.state_key
    TF_STATE_REGION = var.region
    TF_VAR_region   = var.region
  }
}

resource "aws_codebuild_project" "build" {
  name           = "${local.name}-build"
  description    = "loglake: make test, make package"
  service_role   = aws_iam_role.build.arn
  encryption_key = var.pipeline_key_arn
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
  }

  logs_config {
    cloudwatch_logs {
      group_name = aws_cloudwatch_log_group.build["build"].name
    }
  }
}

resource "aws_codebuild_project" "plan" {
  name           = "${local.name}-plan"
  description    = "loglake: terraform plan -out of the source's infra/ with the build's zips"
  service_role   = aws_iam_role.plan.arn
  encryption_key = var.pipeline_key_arn
  build_timeout  = 30

  source {
    type      = "CODEPIPELINE"
    buildspec = file("${path.module}/plan-buildspec.yml")
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
      for_each = local.terraform_environment
      content {
        name  = environment_variable.key
        value = environment_variable.value
      }
    }
  }

  logs_config {
    cloudwatch_logs {
      group_name = aws_cloudwatch_log_group.build["plan"].name
    }
  }
}

resource "aws_codebuild_project" "deploy" {
  name           = "${local.name}-deploy"
  description    = "loglake: terraform apply of the approved plan"
  service_role   = aws_iam_role.deploy.arn
  encryption_key = var.pipeline_key_arn
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
      for_each = local.terraform_environment
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

# CodeDeploy deployments take the traffic shift's time (a canary's bake, or
# ten linear steps: 100 minutes with LambdaLinear10PercentEvery10Minutes),
# all functions at once.
resource "aws_codebuild_project" "release" {
  name           = "${local.name}-release"
  description    = "loglake: a CodeDeploy deployment per function whose live alias is behind its latest version"
  service_role   = aws_iam_role.release.arn
  encryption_key = var.pipeline_key_arn
  build_timeout  = 150

  source {
    type      = "CODEPIPELINE"
    buildspec = file("${path.module}/release-buildspec.yml")
  }

  artifacts {
    type = "CODEPIPELINE"
  }

  environment {
    compute_type    = "BUILD_GENERAL1_SMALL"
    image           = "aws/codebuild/amazonlinux-aarch64-standard:3.0"
    type            = "ARM_CONTAINER"
    privileged_mode = false
  }

  logs_config {
    cloudwatch_logs {
      group_name = aws_cloudwatch_log_group.build["release"].name
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
      id   = var.pipeline_key_arn
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
      name             = "TestPackage"
      category         = "Build"
      owner            = "AWS"
      provider         = "CodeBuild"
      version          = "1"
      input_artifacts  = ["source"]
      output_artifacts = ["build"]
      configuration = {
        ProjectName = aws_codebuild_project.build.name
      }
    }
  }

  # The Terraform comes from the source, not from the build's output: what
  # the build stage's third-party code writes is only the zips.
  stage {
    name = "Plan"
    action {
      name             = "Plan"
      category         = "Build"
      owner            = "AWS"
      provider         = "CodeBuild"
      version          = "1"
      input_artifacts  = ["source", "build"]
      output_artifacts = ["plan"]
      configuration = {
        ProjectName   = aws_codebuild_project.plan.name
        PrimarySource = "source"
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
        CustomData      = "Review the plan printed in the plan stage's log (terraform show tfplan) before approving."
      }
    }
  }

  # The apply, then the release of what it published: the Apply action
  # outputs the deployments (terraform output) and the script, which the
  # Release action runs with its own role.
  stage {
    name = "Deploy"
    action {
      name             = "Apply"
      category         = "Build"
      owner            = "AWS"
      provider         = "CodeBuild"
      version          = "1"
      run_order        = 1
      input_artifacts  = ["plan"]
      output_artifacts = ["applied"]
      configuration = {
        ProjectName = aws_codebuild_project.deploy.name
      }
    }

    action {
      name            = "Release"
      category        = "Build"
      owner           = "AWS"
      provider        = "CodeBuild"
      version         = "1"
      run_order       = 2
      input_artifacts = ["applied"]
      configuration = {
        ProjectName = aws_codebuild_project.release.name
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
