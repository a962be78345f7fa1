# A customer managed key, rotated yearly. The deployment's data key: S3 (when
# SSE-KMS is chosen), the SNS topic (CloudWatch alarms can only publish to a
# topic whose key lets them), log groups, Kinesis, Firehose, Athena results
# and OpenSearch. With CI/CD a second instance is the pipeline's own key
# (its artifacts, CodeBuild projects and their logs), so that no pipeline
# build needs the data key.

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_111:a key policy's "*" resource is this key alone; service statements are bounded by source account and encryption context
  #checkov:skip=CKV_AWS_356:a key policy's "*" resource is this key alone
  #checkov:skip=CKV_AWS_109:the account root statement is AWS's default key policy, delegating key administration to IAM policies
  # The account administers the key through IAM; without this statement the
  # key could become unmanageable.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${var.partition}:iam::${var.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsEncrypts"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${var.partition}:logs:${var.region}:${var.account_id}:log-group:*"]
    }
  }

  # CloudWatch alarms and CodeStar notifications publish to the encrypted
  # topic (the data key only: no topic uses the pipeline's).
  dynamic "statement" {
    for_each = var.alarm_topics ? [1] : []
    content {
      sid       = "AlarmsPublishToEncryptedTopic"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = ["cloudwatch.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [var.account_id]
      }
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name_prefix}: ${var.purpose}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.this.key_id
}
