# The optional search index: an OpenSearch domain with fine-grained access
# control (IAM master user, no internal users), encryption at rest with the
# deployment key, node-to-node encryption, HTTPS only with TLS 1.2, in a VPC
# when subnets are given. The functions sign their requests with their roles
# (es:ESHttp* on this domain); search-setup maps those roles to a writer role.

locals {
  domain = "${var.name_prefix}-search"
  in_vpc = length(var.subnet_ids) > 0
  # Two or more nodes spread over two zones; a VPC domain needs one subnet per zone.
  zones = var.instance_count > 1 ? 2 : 1
}

data "aws_subnet" "first" {
  count = local.in_vpc ? 1 : 0
  id    = var.subnet_ids[0]
}

resource "aws_security_group" "domain" {
  count = local.in_vpc ? 1 : 0

  name        = "${local.domain}-domain"
  description = "OpenSearch domain: HTTPS from the loglake functions and the allowed CIDRs"
  vpc_id      = data.aws_subnet.first[0].vpc_id
}

resource "aws_security_group" "client" {
  #checkov:skip=CKV2_AWS_5:attached to the loglake functions (vpc_config in modules/lambda) through the root module
  count = local.in_vpc ? 1 : 0

  name        = "${local.domain}-client"
  description = "loglake functions: HTTPS to the OpenSearch domain and AWS APIs"
  vpc_id      = data.aws_subnet.first[0].vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "from_clients" {
  count = local.in_vpc ? 1 : 0

  security_group_id            = aws_security_group.domain[0].id
  description                  = "HTTPS from the loglake functions"
  referenced_security_group_id = aws_security_group.client[0].id
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

resource "aws_vpc_security_group_ingress_rule" "from_cidrs" {
  for_each = local.in_vpc ? toset(var.allowed_cidrs) : toset([])

  security_group_id = aws_security_group.domain[0].id
  description       = "HTTPS from an allowed network"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "client_https" {
  count = local.in_vpc ? 1 : 0

  security_group_id = aws_security_group.client[0].id
  description       = "HTTPS to the domain and to AWS APIs (S3, Firehose, STS) through the VPC's endpoints or NAT"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_cloudwatch_log_group" "search" {
  #checkov:skip=CKV_AWS_338:retention is var.log_retention_days (default 30): operational logs of the pipeline, whose data is kept in the lake; raise it where policy asks for a year
  for_each = toset(["index-slow", "search-slow", "es-application", "audit"])

  name              = "/aws/opensearch/${local.domain}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "log_publishing" {
  statement {
    actions   = ["logs:PutLogEvents", "logs:CreateLogStream"]
    resources = [for g in aws_cloudwatch_log_group.search : "${g.arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["es.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "search" {
  policy_name     = "${local.domain}-log-publishing"
  policy_document = data.aws_iam_policy_document.log_publishing.json
}

resource "aws_opensearch_domain" "this" {
  #checkov:skip=CKV_AWS_318:dedicated master nodes triple the cost of a log index; availability comes from two data nodes in two zones (search_instance_count)
  #checkov:skip=CKV2_AWS_59:dedicated master nodes triple the cost of a log index; availability comes from two data nodes in two zones (search_instance_count)
  domain_name    = local.domain
  engine_version = var.engine_version

  cluster_config {
    instance_type          = var.instance_type
    instance_count         = var.instance_count
    zone_awareness_enabled = local.zones > 1

    dynamic "zone_awareness_config" {
      for_each = local.zones > 1 ? [1] : []
      content {
        availability_zone_count = 2
      }
    }
  }

  ebs_options {
    ebs_enabled = true
    volume_type = "gp3"
    volume_size = var.volume_gb
  }

  encrypt_at_rest {
    enabled    = true
    kms_key_id = var.kms_key_arn
  }

  node_to_node_encryption {
    enabled = true
  }

  domain_endpoint_options {
    enforce_https       = true
    tls_security_policy = "Policy-Min-TLS-1-2-2019-07"
  }

  advanced_security_options {
    enabled                        = true
    anonymous_auth_enabled         = false
    internal_user_database_enabled = false
    master_user_options {
      master_user_arn = var.master_user_arn
    }
  }

  dynamic "vpc_options" {
    for_each = local.in_vpc ? [1] : []
    content {
      subnet_ids         = slice(var.subnet_ids, 0, local.zones)
      security_group_ids = [aws_security_group.domain[0].id]
    }
  }

  log_publishing_options {
    log_type                 = "INDEX_SLOW_LOGS"
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.search["index-slow"].arn
    enabled                  = true
  }

  log_publishing_options {
    log_type                 = "SEARCH_SLOW_LOGS"
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.search["search-slow"].arn
    enabled                  = true
  }

  log_publishing_options {
    log_type                 = "ES_APPLICATION_LOGS"
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.search["es-application"].arn
    enabled                  = true
  }

  log_publishing_options {
    log_type                 = "AUDIT_LOGS"
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.search["audit"].arn
    enabled                  = true
  }

  lifecycle {
    precondition {
      condition     = can(regex("^arn:", var.master_user_arn))
      error_message = "search_master_user_arn must be set (an IAM role or user ARN) when enable_search is true."
    }
  }

  depends_on = [aws_cloudwatch_log_resource_policy.search]
}

# Who may send requests at all: the account's principals, signed. What each
# may do inside is fine-grained access control's job (search-setup maps the
# functions' roles to a writer role; the master user administers).
data "aws_iam_policy_document" "access" {
  statement {
    actions   = ["es:ESHttp*"]
    resources = ["${aws_opensearch_domain.this.arn}/*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${var.partition}:iam::${var.account_id}:root"]
    }
  }
}

resource "aws_opensearch_domain_policy" "this" {
  domain_name     = aws_opensearch_domain.this.domain_name
  access_policies = data.aws_iam_policy_document.access.json
}
