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

# What both CodeBuild stages need: their logs, the artifacts, the key, and
# the Terraform state (read, plus the S3 lock file next to it).
data "aws_iam_policy_document" "codebuild_common" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for g in aws_cloudwatch_log_group.build : "${g.arn}:*"]
  }

  statement {
    sid       = "Artifacts"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]
    resources = ["${module.artifacts.arn}/*"]
  }

  statement {
    sid       = "StateRead"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.state_object, "${local.state_object}.tflock"]
  }

  statement {
    sid       = "StateBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketVersioning"]
    resources = ["arn:${var.partition}:s3:::${var.state_bucket}"]
  }

  statement {
    sid       = "Key"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
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
}

data "aws_iam_policy_document" "read" {
  statement {
    sid = "ReadManaged"
    actions = [
      "s3:Get*", "s3:List*", "s3:Describe*",
      "sqs:Get*", "sqs:List*", "sqs:Describe*",
      "lambda:Get*", "lambda:List*", "lambda:Describe*",
      "iam:Get*", "iam:List*", "iam:Describe*",
      "logs:Get*", "logs:List*", "logs:Describe*",
      "kinesis:Get*", "kinesis:List*", "kinesis:Describe*",
      "firehose:Get*", "firehose:List*", "firehose:Describe*",
      "glue:Get*", "glue:List*", "glue:Describe*",
      "athena:Get*", "athena:List*", "athena:Describe*",
      "sns:Get*", "sns:List*", "sns:Describe*",
      "dynamodb:Describe*", "dynamodb:List*",
      "events:Describe*", "events:List*",
      "cloudwatch:Get*", "cloudwatch:List*", "cloudwatch:Describe*",
      "kms:Get*", "kms:List*", "kms:Describe*",
      "es:Get*", "es:List*", "es:Describe*",
      "codebuild:Get*", "codebuild:List*", "codebuild:Describe*",
      "codepipeline:Get*", "codepipeline:List*", "codepipeline:Describe*",
      "codestar-connections:Get*", "codestar-connections:List*", "codestar-connections:Describe*",
      "codeconnections:Get*", "codeconnections:List*", "codeconnections:Describe*",
      "ec2:Describe*",
    ]
    resources = local.managed_resources
  }

  statement {
    sid = "ReadUnscoped"
    # These actions support no resource-level permissions.
    actions = [
      "sts:GetCallerIdentity",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSecurityGroupRules",
      "ec2:DescribeSubnets",
      "ec2:DescribeVpcs",
      "ec2:DescribeNetworkInterfaces",
      "kms:ListAliases",
      "logs:DescribeLogGroups",
      "logs:DescribeResourcePolicies",
      "lambda:ListEventSourceMappings",
      "sqs:ListQueues",
      "es:ListDomainNames",
    ]
    resources = ["*"]
  }
}

# Changes to what the deployment manages, for the deploy stage only.
data "aws_iam_policy_document" "write" {
  statement {
    sid = "ManageNamedResources"
    actions = [
      "s3:CreateBucket", "s3:DeleteBucket", "s3:Put*", "s3:DeleteBucketPolicy", "s3:DeleteObject", "s3:DeleteObjectVersion",
      "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:UntagQueue", "sqs:AddPermission", "sqs:RemovePermission",
      "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
      "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency", "lambda:TagResource", "lambda:UntagResource",
      "lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping",
      "lambda:AddPermission", "lambda:RemovePermission", "lambda:PutFunctionEventInvokeConfig",
      "lambda:UpdateFunctionEventInvokeConfig", "lambda:DeleteFunctionEventInvokeConfig",
      "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
      "iam:TagRole", "iam:UntagRole", "iam:PassRole",
      "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:AssociateKmsKey", "logs:DisassociateKmsKey",
      "logs:CreateLogStream", "logs:DeleteLogStream", "logs:TagResource", "logs:UntagResource", "logs:TagLogGroup",
      "kinesis:CreateStream", "kinesis:DeleteStream", "kinesis:UpdateShardCount", "kinesis:UpdateStreamMode", "kinesis:StartStreamEncryption",
      "kinesis:IncreaseStreamRetentionPeriod", "kinesis:DecreaseStreamRetentionPeriod", "kinesis:AddTagsToStream", "kinesis:RemoveTagsFromStream",
      "firehose:CreateDeliveryStream", "firehose:DeleteDeliveryStream", "firehose:UpdateDestination", "firehose:StartDeliveryStreamEncryption",
      "firehose:StopDeliveryStreamEncryption", "firehose:TagDeliveryStream", "firehose:UntagDeliveryStream",
      "glue:CreateDatabase", "glue:UpdateDatabase", "glue:DeleteDatabase", "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable",
      "athena:CreateWorkGroup", "athena:UpdateWorkGroup", "athena:DeleteWorkGroup", "athena:CreateNamedQuery", "athena:UpdateNamedQuery",
      "athena:DeleteNamedQuery", "athena:TagResource", "athena:UntagResource",
      "sns:CreateTopic", "sns:DeleteTopic", "sns:SetTopicAttributes", "sns:Subscribe", "sns:Unsubscribe", "sns:TagResource", "sns:UntagResource",
      "dynamodb:CreateTable", "dynamodb:UpdateTable", "dynamodb:DeleteTable", "dynamodb:UpdateTimeToLive", "dynamodb:UpdateContinuousBackups",
      "dynamodb:TagResource", "dynamodb:UntagResource",
      "events:PutRule", "events:DeleteRule", "events:EnableRule", "events:DisableRule", "events:PutTargets", "events:RemoveTargets",
      "events:TagResource", "events:UntagResource",
      "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards",
      "cloudwatch:TagResource", "cloudwatch:UntagResource",
      "kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias", "kms:EnableKeyRotation", "kms:PutKeyPolicy", "kms:TagResource",
      "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CreateGrant", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:UpdateKeyDescription",
      "es:CreateDomain", "es:DeleteDomain", "es:UpdateDomainConfig", "es:AddTags", "es:RemoveTags", "es:ESHttpGet", "es:ESHttpPut", "es:ESHttpPost", "es:ESHttpDelete",
      "codebuild:CreateProject", "codebuild:UpdateProject", "codebuild:DeleteProject",
      "codepipeline:CreatePipeline", "codepipeline:UpdatePipeline", "codepipeline:DeletePipeline", "codepipeline:TagResource", "codepipeline:UntagResource",
      "codestar-connections:CreateConnection", "codestar-connections:DeleteConnection", "codestar-connections:TagResource",
      "codestar-connections:PassConnection", "codeconnections:CreateConnection", "codeconnections:DeleteConnection",
      "codeconnections:TagResource", "codeconnections:PassConnection",
      "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", "ec2:CreateTags",
    ]
    resources = local.managed_resources
  }

  statement {
    sid = "CreateUnscoped"
    # Creating a key or an event source mapping, and the account's log
    # resource policy, take no resource ARN known in advance.
    actions = [
      "kms:CreateKey",
      "lambda:CreateEventSourceMapping",
      "logs:PutResourcePolicy",
      "logs:DeleteResourcePolicy",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "OpenSearchServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["${local.arn}:iam::${var.account_id}:role/aws-service-role/opensearchservice.amazonaws.com/*"]
  }
}

resource "aws_iam_role" "build" {
  name               = "${local.name}-build"
  assume_role_policy = data.aws_iam_policy_document.assume_codebuild.json
}

resource "aws_iam_role_policy" "build_common" {
  name   = "common"
  role   = aws_iam_role.build.id
  policy = data.aws_iam_policy_document.codebuild_common.json
}

resource "aws_iam_role_policy" "build_read" {
  name   = "plan-read"
  role   = aws_iam_role.build.id
  policy = data.aws_iam_policy_document.read.json
}

resource "aws_iam_role" "deploy" {
  name               = "${local.name}-deploy"
  assume_role_policy = data.aws_iam_policy_document.assume_codebuild.json
}

resource "aws_iam_role_policy" "deploy_common" {
  name   = "common"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.codebuild_common.json
}

resource "aws_iam_role_policy" "deploy_read" {
  name   = "plan-read"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.read.json
}

resource "aws_iam_role_policy" "deploy_write" {
  name   = "apply-write"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.write.json
}

data "aws_iam_policy_document" "pipeline" {
  statement {
    sid       = "Artifacts"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketVersioning", "s3:PutObject", "s3:PutObjectAcl"]
    resources = [module.artifacts.arn, "${module.artifacts.arn}/*"]
  }

  statement {
    sid       = "Key"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "Source"
    actions   = ["codestar-connections:UseConnection", "codeconnections:UseConnection"]
    resources = [local.connection_arn]
  }

  statement {
    sid       = "Builds"
    actions   = ["codebuild:StartBuild", "codebuild:BatchGetBuilds"]
    resources = [aws_codebuild_project.build.arn, aws_codebuild_project.deploy.arn]
  }

  statement {
    sid       = "ApprovalNotice"
    actions   = ["sns:Publish"]
    resources = [var.approval_topic_arn]
  }
}

resource "aws_iam_role" "pipeline" {
  name               = local.name
  assume_role_policy = data.aws_iam_policy_document.assume_codepipeline.json
}

resource "aws_iam_role_policy" "pipeline" {
  name   = "pipeline"
  role   = aws_iam_role.pipeline.id
  policy = data.aws_iam_policy_document.pipeline.json
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
