# What lives inside the domain, applied from the same repository files that
# `loglake search setup` uses: the index template (search/index-template.json)
# and the ISM policy (search/ism-policy.json.tpl, rendered with the
# retention), the OpenSearch Dashboards saved objects
# (search/dashboards.ndjson), plus the fine-grained access control role the
# functions write with. Runs as the domain's master user.

locals {
  # The names `loglake search setup` uses, so either tool updates the same
  # template and policy (crates/cli/src/search.rs template_name).
  name    = "loglake-${replace(var.index_prefix, "/[-_.]+$/", "")}"
  pattern = "${var.index_prefix}*"

  # The saved objects over this deployment's indices: the file's `logs-*`
  # (index pattern title, TSVB index) becomes the pattern, as `loglake search
  # setup` does (crates/cli/src/search.rs dashboards_ndjson).
  dashboards = replace(file("${path.module}/../../../search/dashboards.ndjson"), "logs-*", local.pattern)
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

# The OpenSearch Dashboards saved objects (index pattern, saved searches,
# visualizations, the loglake-overview dashboard), imported through the
# Dashboards saved objects API with overwrite, so applying again (or after
# `loglake search setup`) is harmless; a changed file or domain re-imports
# (so does any change to the search module: its URL is then read at apply).
#
# Why a local-exec: the opensearch provider has no saved objects import;
# its opensearch_dashboard_object writes raw documents into the .kibana index
# instead (another format than an export, past Dashboards' migrations and
# reference checks, and not into the tenant indices fine-grained access
# control uses). The import API is signed like the rest of the domain (SigV4,
# service es, the caller's credentials: Terraform runs as the master user).
# curl signs multipart bodies built with -F wrongly (curl/curl#13351), so the
# body is built here, with a fixed boundary, and sent with --data-binary.
# Needs bash, curl >= 7.76 and, when AWS_ACCESS_KEY_ID is not set, AWS CLI v2
# (`aws configure export-credentials` resolves profiles, SSO and roles the way
# the providers do). `securitytenant: global` puts the objects in the shared
# global tenant, where every Dashboards user sees them.
data "opensearch_host" "domain" {
  active = true
}

resource "terraform_data" "dashboards" {
  triggers_replace = {
    objects  = sha256(local.dashboards)
    endpoint = data.opensearch_host.domain.url
  }

  provisioner "local-exec" {
    interpreter = ["bash", "-c"]
    environment = {
      ENDPOINT   = trimsuffix(data.opensearch_host.domain.url, "/")
      REGION     = regex("\\.([a-z0-9-]+)\\.es\\.amazonaws\\.com", data.opensearch_host.domain.url)[0]
      DASHBOARDS = local.dashboards
    }
    command = <<-EOT
      set -euo pipefail
      if [[ -z "$${AWS_ACCESS_KEY_ID:-}" ]]; then
        eval "$(aws configure export-credentials --format env)"
      fi
      body="$(mktemp)"
      trap 'rm -f "$body"' EXIT
      boundary=loglake-saved-objects-6b1f0c9e2d7a4e85
      {
        printf -- '--%s\r\nContent-Disposition: form-data; name="file"; filename="dashboards.ndjson"\r\n' "$boundary"
        printf 'Content-Type: application/ndjson\r\n\r\n%s\r\n--%s--\r\n' "$DASHBOARDS" "$boundary"
      } >"$body"
      url="$ENDPOINT/_dashboards/api/saved_objects/_import?overwrite=true"
      answer="$(curl --silent --show-error --fail-with-body --retry 5 --retry-delay 10 \
        --aws-sigv4 "aws:amz:$REGION:es" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        $${AWS_SESSION_TOKEN:+--header "x-amz-security-token: $AWS_SESSION_TOKEN"} \
        --header 'osd-xsrf: true' --header 'securitytenant: global' \
        --header "Content-Type: multipart/form-data; boundary=$boundary" \
        --data-binary "@$body" "$url")" || { echo "POST $url failed: $answer" >&2; exit 1; }
      case "$answer" in
        *'"success":true'*) echo "Dashboards saved objects imported: $answer" ;;
        *) echo "POST $url: not every saved object was imported: $answer" >&2; exit 1 ;;
      esac
    EOT
  }
}
