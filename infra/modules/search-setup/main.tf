# What lives inside the domain, applied from the same repository files that
# `loglake search setup` uses: the index template (search/index-template.json)
# and the ISM policy (search/ism-policy.json.tpl, rendered with the
# retention), plus the fine-grained access control role the functions write
# with. Runs as the domain's master user.

terraform {
  required_providers {
    opensearch = {
      source = "opensearch-project/opensearch"
    }
  }
}

locals {
  # The names `loglake search setup` uses, so either tool updates the same
  # template and policy (crates/cli/src/search.rs template_name).
  name    = "loglake-${replace(var.index_prefix, "/[-_.]+$/", "")}"
  pattern = "${var.index_prefix}*"
}

resource "opensearch_index_template" "logs" {
  name = local.name
  # The repository's template with this deployment's index pattern, as
  # core's search::index_template builds it for daily indices.
  body = jsonencode(merge(jsondecode(file(var.index_template_path)), { index_patterns = [local.pattern] }))
}

resource "opensearch_ism_policy" "logs" {
  policy_id = local.name
  # Daily indices are bounded by the day, so the hot state needs no rollover
  # (core's search::ism_policy renders the same for daily indices).
  body = templatefile(var.ism_policy_path, {
    delete_after_days = var.delete_after_days
    hot_actions       = jsonencode([])
    index_patterns    = jsonencode([local.pattern])
  })
}

resource "opensearch_role" "writer" {
  role_name   = "loglake_writer"
  description = "loglake functions: create daily indices and bulk-index documents"

  cluster_permissions = ["cluster_monitor", "indices:data/write/bulk"]

  index_permissions {
    index_patterns  = ["${var.index_prefix}*"]
    allowed_actions = ["create_index", "crud", "indices:admin/mapping/put"]
  }
}

resource "opensearch_roles_mapping" "writer" {
  role_name     = opensearch_role.writer.role_name
  description   = "The loglake functions' IAM roles"
  backend_roles = var.writer_role_arns
}
