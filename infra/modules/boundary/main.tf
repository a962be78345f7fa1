# The permissions boundary of the deployment: a managed policy every role it
# creates carries (the functions', Firehose's, the pipeline's), so that no
# role, whatever its own policy says, can do more than this. It allows the
# services the roles use only on the deployment's own resources (named with
# its prefix, and its keys by ARN), plus the few actions AWS grants on no
# narrower resource; and it denies the ways out: creating a role or changing
# a role's policies without this boundary, removing it from a role, changing
# the boundary itself, creating users, groups or access keys.
#
# The pipeline's deploy role carries it too and cannot change it: a change
# here is applied by an administrator (README, "CI/CD").

locals {
  arn = "arn:${var.partition}"
  # With collect regions (modules/collect-region) the deployment's regional
  # resources, named with the same prefix, are in more than one region. An
  # ARN pattern names one region or all of them, and a list per region would
  # pass the 6,144 characters of a managed policy, so the region becomes *:
  # still this account, still the prefix.
  region = length(var.extra_regions) > 0 ? "*" : var.region
  at     = "${local.region}:${var.account_id}"
  p      = var.name_prefix

  name = "${var.name_prefix}-boundary"
  # Its own ARN, built from its name: the policy names itself (the boundary a
  # new role must carry, the policy nobody under it may change), which a
  # reference to aws_iam_policy.this.arn would make a cycle.
  policy_arn = "arn:${var.partition}:iam::${var.account_id}:policy/${local.name}"

  # With CI/CD, the Terraform state the pipeline's plan and deploy roles
  # read and write (cicd-state.json.tftpl), and its S3 lock file.
  state_bucket_arn = "arn:${var.partition}:s3:::${var.state_bucket}"
  state_resources = var.state_bucket == "" ? [] : [
    local.state_bucket_arn,
    "${local.state_bucket_arn}/${var.state_key}",
    "${local.state_bucket_arn}/${var.state_key}.tflock",
  ]

  # What the deployment manages, by name: every resource is named with the
  # prefix; event source mappings, connections and security groups get
  # generated IDs. modules/cicd reads and writes exactly these (through
  # managed_resources); the boundary allows nothing else either.
  named_resources = [
    "${local.arn}:s3:::${local.p}-*",
    "${local.arn}:sqs:${local.at}:${local.p}-*",
    "${local.arn}:lambda:${local.at}:function:${local.p}-*",
    "${local.arn}:lambda:${local.at}:event-source-mapping:*",
    "${local.arn}:iam::${var.account_id}:role/${local.p}-*",
    "${local.arn}:iam::${var.account_id}:policy/${local.p}-*",
    # /aws/<service>/<prefix>-...: the functions', Firehose's, OpenSearch's,
    # CodeBuild's and the collector's access log (/aws/apigateway/).
    "${local.arn}:logs:${local.at}:log-group:/aws/*/${local.p}-*",
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
    "${local.arn}:kms:${local.at}:alias/${local.p}",
    "${local.arn}:kms:${local.at}:alias/${local.p}-pipeline",
    "${local.arn}:es:${local.at}:domain/${local.p}-*",
    "${local.arn}:codebuild:${local.at}:project/${local.p}-*",
    "${local.arn}:codepipeline:${local.at}:${local.p}-*",
    # The CodeDeploy applications (<prefix>-functions, at home and in each
    # collect region) and their deployment groups (<application>/<group>).
    "${local.arn}:codedeploy:${local.at}:*:${local.p}-*",
    "${local.arn}:codestar-connections:${local.at}:connection/*",
    "${local.arn}:codeconnections:${local.at}:connection/*",
    "${local.arn}:ec2:${local.at}:security-group/*",
    "${local.arn}:ec2:${local.at}:security-group-rule/*",
    "${local.arn}:ec2:${local.at}:vpc/*",
    # The collector's HTTP API, its custom domain and their tags: API
    # Gateway generates the IDs (arn:...:apigateway:<region>::/apis/<id>).
    "${local.arn}:apigateway:${var.region}::/apis*",
    "${local.arn}:apigateway:${var.region}::/domainnames*",
    "${local.arn}:apigateway:${var.region}::/tags/*",
  ]

  # KMS keys get generated IDs, so they are named by ARN: this deployment's,
  # never key/* (every key in the region).
  managed_resources = concat(local.named_resources, var.key_arns)

  # The buckets AWS services write their logs to (the root's
  # aws_log_sources) are not the deployment's: nothing may manage them, and
  # only reading is allowed, in a statement of its own, on each bucket, its
  # objects under each prefix and the keys they are encrypted with
  # (boundary-aws-logs.json.tftpl, only with sources). They stay out of
  # managed_resources, which the pipeline's roles read and change.
  aws_log_resources = distinct(concat(
    [for s in var.aws_log_sources : "arn:${var.partition}:s3:::${s.bucket}"],
    [for s in var.aws_log_sources : "arn:${var.partition}:s3:::${s.bucket}/${s.prefix}*"],
    [for s in var.aws_log_sources : s.kms_key_arn if s.kms_key_arn != null],
  ))
  aws_logs = length(var.aws_log_sources) > 0

  # AWS's own predefined Lambda deployment configurations, which the
  # pipeline's release role reads when it starts a deployment: not the
  # deployment's (no role may manage them), so outside managed_resources,
  # which the pipeline's plan and deploy roles read and change.
  aws_resources = ["${local.arn}:codedeploy:${local.at}:deploymentconfig:CodeDeployDefault.Lambda*"]

  # The policy: the boundary, and the AWS log sources' statement when there
  # are sources.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      #checkov:skip=CKV_AWS_290:the boundary's Unscoped statement is a ceiling, not a grant: the actions AWS authorizes on no narrower resource (X-Ray, the network interfaces of functions in a VPC, listing and describing, creating a key or an event source mapping); each role's own policy grants what it uses
      #checkov:skip=CKV_AWS_355:the boundary's Unscoped statement is a ceiling, not a grant: the actions AWS authorizes on no narrower resource (X-Ray, the network interfaces of functions in a VPC, listing and describing, creating a key or an event source mapping); each role's own policy grants what it uses
      jsondecode(templatefile("${path.module}/../../policies/boundary.json.tftpl", {
        managed_resources = jsonencode(concat(local.managed_resources, local.state_resources, local.aws_resources))
        boundary_arn      = local.policy_arn
        partition         = var.partition
        account_id        = var.account_id
      })).Statement,
      local.aws_logs ? jsondecode(templatefile("${path.module}/../../policies/boundary-aws-logs.json.tftpl", {
        aws_log_resources = jsonencode(local.aws_log_resources)
      })).Statement : [],
    )
  })
}

resource "aws_iam_policy" "this" {
  name        = local.name
  description = "${var.name_prefix}: permissions boundary of every role the deployment creates"
  # A managed policy holds at most 6,144 characters: the statements allow
  # whole services on the managed resources (each role's own policy grants
  # the actions it uses), IAM and KMS action by action.
  #checkov:skip=CKV_AWS_290:the boundary's Unscoped statement is a ceiling, not a grant: the actions AWS authorizes on no narrower resource (X-Ray, the network interfaces of functions in a VPC, listing and describing, creating a key or an event source mapping); each role's own policy grants what it uses
  #checkov:skip=CKV_AWS_355:the boundary's Unscoped statement is a ceiling, not a grant: the actions AWS authorizes on no narrower resource (X-Ray, the network interfaces of functions in a VPC, listing and describing, creating a key or an event source mapping); each role's own policy grants what it uses
  policy = local.policy

  # IAM refuses a managed policy over 6,144 characters (whitespace not
  # counted; jsonencode writes none), at apply: say so at plan, and why.
  lifecycle {
    precondition {
      condition     = length(local.policy) <= 6144
      error_message = "The permission boundary would be ${length(local.policy)} characters, over IAM's 6,144 for a managed policy: aws_log_sources name too many buckets, prefixes and keys for it. List fewer sources, or shorter prefixes (a shorter prefix covers more of its bucket)."
    }
  }
}
