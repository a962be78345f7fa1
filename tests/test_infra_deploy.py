"""Safe deploys (issue 20): versions, a live alias, CodeDeploy canaries with
automatic rollback.

The HCL is read (python-hcl2, as tests/test_infra.py reads it) and, where a
value is only known once modules are wired together, evaluated by
scripts/tf_eval.py against a stand-in provider that reports the ARNs AWS
would (as tests/test_aws_log_sources.py does):

- every function publishes versions and has a `live` alias Terraform never
  moves, and every trigger (event source mappings, the schedule, the HTTP
  API, the function URL, their permissions, the async invoke settings)
  invokes that alias, never `$LATEST` nor the unqualified function;
- one CodeDeploy deployment group per function but fn-canary, BLUE_GREEN
  with traffic control, rolled back on failure and on alarm, with the
  function's alarms: errors and throttles of the alias, its dead-letter
  queue's where it has one, fn-ingest's quarantine ratio and rows stopped
  (metric math over the EMF metrics fn-ingest emits);
- CodeDeploy's role, fn-canary's and the pipeline's release role hold
  exactly their statements, and why.json says why each is there;
- scripts/deploy-functions.py, run against a fake AWS CLI: the AppSpec of
  each deployment (the hook for fn-ingest only, from the Terraform output it
  reads), skipping what is current, failing on what fails or rolls back;
  `make deploy` and the pipeline's Release action run it after the apply.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import uuid

import pytest
import yaml

from test_infra import (
    CICD, CRATES, INFRA, LAMBDA_MODULE, OBSERVABILITY, POLICIES, ROOT, all_modules, expr, function_calls, list_value,
    load, policy_renders, render_policy, role_renders, root_values, single_block, stage_action, stage_project,
)

sys.path.insert(0, str(ROOT / "scripts"))
from tf_eval import Evaluator  # noqa: E402

import test_aws_log_sources as sources  # noqa: E402

ACCOUNT, REGION = sources.ACCOUNT, sources.REGION
CODEDEPLOY = INFRA / "modules" / "codedeploy"
INGEST = INFRA / "modules" / "ingest"
REGION_MODULE = INFRA / "modules" / "collect-region"
ALIAS = "live"
CANARY_PREFIX = "_canary/"
PREDEFINED = [
    "CodeDeployDefault.LambdaAllAtOnce",
    "CodeDeployDefault.LambdaCanary10Percent5Minutes",
    "CodeDeployDefault.LambdaCanary10Percent10Minutes",
    "CodeDeployDefault.LambdaCanary10Percent15Minutes",
    "CodeDeployDefault.LambdaCanary10Percent30Minutes",
    "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
    "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes",
    "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes",
    "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes",
]


# --- infra/ evaluated ---------------------------------------------------------------


def stand_in(res) -> dict:
    """test_aws_log_sources' stand-in, and the ARNs of what this issue adds."""
    t = res.type
    if t == "aws_lambda_function":
        return {"arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{res.attr('function_name')}"}
    if t == "aws_lambda_alias":
        return {"arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{res.attr('function_name')}:{res.attr('name')}"}
    if t == "aws_cloudwatch_metric_alarm":
        return {"arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{res.attr('alarm_name')}"}
    return sources.stand_in(res)


class Deployment:
    """infra/ evaluated with these root variables (the collector on, so that
    every function of the home region is there)."""

    def __init__(self, **variables):
        variables = {"region": REGION, "enable_collect": True, **variables}
        self.ev = sources.StandIn(str(INFRA), variables, stand_in, account=ACCOUNT, region=REGION)
        self.root = self.ev.root
        self.codedeploy = self.root.module("codedeploy")
        self.ingest = self.root.module("ingest")

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"

    def alarm_arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"

    def groups(self) -> dict:
        return self.codedeploy.resource("aws_codedeploy_deployment_group", "this")

    def role_policy(self) -> list[dict]:
        return json.loads(self.codedeploy.resource("aws_iam_role_policy", "this").attr("policy"))["Statement"]

    def canary_policy(self) -> list[dict]:
        return json.loads(self.ingest.module("canary").resource("aws_iam_role_policy", "function").attr("policy"))["Statement"]

    def environment(self, module: str, call: str = "function") -> dict:
        return self.root.module(module).module(call).local("environment")


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return Deployment()


# --- versions and the live alias ----------------------------------------------------


def test_every_function_publishes_versions_and_has_a_live_alias_terraform_never_moves():
    lam = load(LAMBDA_MODULE)
    fn = lam.of_type("aws_lambda_function")["this"]
    assert fn["publish"] is True
    (name, alias), = lam.of_type("aws_lambda_alias").items()
    assert name == "live" and alias["name"] == "${local.alias}" and lam.locals["alias"] == ALIAS
    assert expr(alias["function_name"]) == "aws_lambda_function.this.function_name"
    # Created at the version the first apply published, then CodeDeploy's.
    assert expr(alias["function_version"]) == "aws_lambda_function.this.version"
    ignored = [expr(a) for a in single_block(alias, "lifecycle")["ignore_changes"]]
    assert ignored == ["function_version", "routing_config"]
    outputs = lam.outputs
    assert expr(outputs["alias_arn"]["value"]) == "aws_lambda_alias.live.arn"
    assert expr(outputs["alias_name"]["value"]) == "aws_lambda_alias.live.name"
    # Every function is a modules/lambda call: every one of them has it.
    assert {"fn-ingest", "fn-stream", "fn-alerts", "fn-collect", "fn-canary"} <= set(function_calls())
    # The alarms select the alias by the same name.
    assert load(OBSERVABILITY).variables["function_alias"]["default"] == ALIAS


# What a trigger is, and which of its arguments names the function.
TRIGGERS = {
    "aws_lambda_event_source_mapping": "function_name",
    "aws_cloudwatch_event_target": "arn",
    "aws_apigatewayv2_integration": "integration_uri",
}
QUALIFIED = ["aws_lambda_permission", "aws_lambda_function_url", "aws_lambda_function_event_invoke_config", "aws_lambda_provisioned_concurrency_config"]


def lambda_calls(module) -> set[str]:
    """The module calls of modules/lambda in a module, by name."""
    return {n for n, c in module.modules.items() if (module.path / c["source"]).resolve() == LAMBDA_MODULE}


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)


def test_every_trigger_invokes_the_live_alias_never_latest_nor_the_function():
    found = {t: 0 for t in [*TRIGGERS, *QUALIFIED]}
    for m in all_modules():
        calls = lambda_calls(m)
        for rtype, arg in TRIGGERS.items():
            for name, body in m.of_type(rtype).items():
                found[rtype] += 1
                target = re.fullmatch(r"module\.(\w+)(?:\[0\])?\.alias_arn", expr(body[arg]))
                assert target and target.group(1) in calls, f"{m.path.name}: {rtype}.{name} invokes {body[arg]}, not a function's live alias"
        for rtype in QUALIFIED:
            for name, body in m.of_type(rtype).items():
                found[rtype] += 1
                fn = re.fullmatch(r"module\.(\w+)(?:\[0\])?\.function_name", expr(body["function_name"]))
                assert fn and fn.group(1) in calls, f"{m.path.name}: {rtype}.{name}"
                assert expr(body.get("qualifier", "")) in (f"module.{fn.group(1)}.alias_name", f"module.{fn.group(1)}[0].alias_name"), \
                    f"{m.path.name}: {rtype}.{name} has no qualifier: it would act on the unqualified function"
        # $LATEST is named by nothing (comments aside).
        for (rtype, name), body in m.resources.items():
            assert not [s for s in strings(body) if "$LATEST" in s], f"{m.path.name}: {rtype}.{name} names $LATEST"
    # The two event source mappings, the schedule, the HTTP API and its
    # permissions, the function URL, the schedule's invoke settings.
    assert found["aws_lambda_event_source_mapping"] == 2 and found["aws_cloudwatch_event_target"] == 1
    assert found["aws_apigatewayv2_integration"] == 1 and found["aws_lambda_permission"] == 2
    assert found["aws_lambda_function_url"] == 1 and found["aws_lambda_function_event_invoke_config"] == 1


def test_the_triggers_resolve_to_the_alias_arn(deployment):
    d = deployment
    ingest = d.ingest.resource("aws_lambda_event_source_mapping", "ingest").attr("function_name")
    stream = d.root.module("stream").resource("aws_lambda_event_source_mapping", "stream").attr("function_name")
    schedule = d.root.module("alerts").resource("aws_cloudwatch_event_target", "schedule")[0].attr("arn")
    collect = d.root.module("collect")[0]
    api = collect.resource("aws_apigatewayv2_integration", "function").attr("integration_uri")
    permissions = {k: (p.attr("function_name"), p.attr("qualifier")) for k, p in collect.resource("aws_lambda_permission", "api").items()}
    assert ingest == d.function_arn("loglake-fn-ingest") + ":live"
    assert stream == d.function_arn("loglake-fn-stream") + ":live"
    assert schedule == d.function_arn("loglake-fn-alerts") + ":live"
    assert api == d.function_arn("loglake-fn-collect") + ":live"
    assert permissions == {"events": ("loglake-fn-collect", "live"), "healthz": ("loglake-fn-collect", "live")}


# --- CodeDeploy ---------------------------------------------------------------------


def test_each_deployment_group_shifts_traffic_and_rolls_back_on_failure_and_on_alarm():
    m = load(CODEDEPLOY)
    (app,) = m.of_type("aws_codedeploy_app").values()
    assert app["compute_platform"] == "Lambda" and app["name"] == "${local.application}"
    assert m.locals["application"] == "${var.name_prefix}-functions"
    (group,) = m.of_type("aws_codedeploy_deployment_group").values()
    assert expr(group["for_each"]) == "var.functions"
    assert expr(group["deployment_group_name"]) == "each.value.name"
    assert expr(group["service_role_arn"]) == "aws_iam_role.this.arn"
    assert expr(group["deployment_config_name"]) == "var.deployment_config"
    style = single_block(group, "deployment_style")
    assert (style["deployment_type"], style["deployment_option"]) == ("BLUE_GREEN", "WITH_TRAFFIC_CONTROL")
    rollback = single_block(group, "auto_rollback_configuration")
    assert rollback["enabled"] is True and sorted(rollback["events"]) == ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
    alarms = single_block(group, "alarm_configuration")
    assert alarms["enabled"] is True and expr(alarms["alarms"]) == "each.value.alarm_names"
    # No AWS managed policy on the role: its own template, and nothing attached.
    assert not m.of_type("aws_iam_role_policy_attachment") and not m.of_type("aws_iam_policy")
    # The root: every function but fn-canary, with the root's strategy.
    root = load(INFRA)
    call = root.modules["codedeploy"]
    assert call["source"] == "./modules/codedeploy" and expr(call["deployment_config"]) == "var.deployment_config"
    assert expr(call["permissions_boundary"]) == "module.boundary.arn"
    keys = set(re.findall(r"\b(\w+) = \{name = ", expr(root.locals["deployed_functions"])))
    assert keys == {"ingest", "stream", "alerts", "collect"}
    assert call["hooks"] == {"ingest": {"name": "${module.ingest.canary_function_name}", "arn": "${module.ingest.canary_function_arn}"}}
    # In a collect region: its fn-stream and fn-collect, no hook.
    region = load(REGION_MODULE).modules["codedeploy"]
    assert set(region["functions"]) == {"stream", "collect"} and "hooks" not in region
    assert expr(region["deployment_config"]) == "var.deployment_config"
    for i in (1, 2, 3):
        assert expr(root.modules[f"collect_region_{i}"]["deployment_config"]) == "var.deployment_config"


def test_deployment_config_is_one_of_the_predefined_lambda_configurations():
    variable = load(INFRA).variables["deployment_config"]
    assert variable["default"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    (validation,) = variable["validation"]
    assert re.findall(r'"(CodeDeployDefault\.[\w]+)"', expr(validation["condition"])) == PREDEFINED
    assert "LambdaAllAtOnce" in variable["description"] and "first deploy" in variable["description"]
    # (Terraform itself accepts and refuses them: tests/test_infra_docs.py, CASES.)


def test_each_function_is_rolled_back_by_its_own_alarms(deployment):
    d = deployment
    groups = d.groups()
    assert sorted(groups) == ["alerts", "collect", "ingest", "stream"], "every function but fn-canary"
    names = {k: g.attr("deployment_group_name") for k, g in groups.items()}
    assert names == {k: f"loglake-fn-{k}" for k in groups}
    alarms = {k: g.attr("alarms", scope=single(g.blocks("alarm_configuration"))) for k, g in groups.items()}
    fn = lambda k: f"loglake-fn-{k}"  # noqa: E731
    assert alarms == {
        "ingest": [f"{fn('ingest')}-errors", f"{fn('ingest')}-throttles", "loglake-ingest-dlq-not-empty",
                   f"{fn('ingest')}-quarantine-ratio", f"{fn('ingest')}-rows-stopped"],
        "stream": [f"{fn('stream')}-errors", f"{fn('stream')}-throttles", "loglake-stream-failures-not-empty"],
        "alerts": [f"{fn('alerts')}-errors", f"{fn('alerts')}-throttles"],
        "collect": [f"{fn('collect')}-errors", f"{fn('collect')}-throttles"],
    }
    # Errors and throttles of the alias (what every trigger invokes).
    obs = d.root.module("observability")
    for kind in ("errors", "throttles"):
        for k in groups:
            alarm = obs.resource("aws_cloudwatch_metric_alarm", "this")[f"{kind}/{k}"]
            assert alarm.attr("namespace") == "AWS/Lambda" and alarm.attr("metric_name") == kind.title()
            assert alarm.attr("dimensions") == {"FunctionName": fn(k), "Resource": f"{fn(k)}:live"}
    # The dead-letter queues' depth.
    for k, queue in (("ingest", "loglake-ingest-dlq"), ("stream", "loglake-stream-failures")):
        alarm = obs.resource("aws_cloudwatch_metric_alarm", "this")[f"dead_letters/{k}"]
        assert alarm.attr("metric_name") == "ApproximateNumberOfMessagesVisible" and alarm.attr("dimensions") == {"QueueName": queue}


def single(items):
    (one,) = items
    return one


def emf_metrics() -> tuple[str, list[list[str]], set[str]]:
    """(namespace, dimension sets, metric names) of fn-ingest's per-source EMF line."""
    src = (CRATES / "core" / "src" / "metrics.rs").read_text()
    body = src.split("pub fn emf(", 1)[1].split("\n}\n", 1)[0]
    namespace = re.search(r'"Namespace":\s*"(\w+)"', body).group(1)
    sets = re.search(r'"Dimensions":\s*\[(\[[^\]]+\](?:,\s*\[[^\]]+\])*)\]', body).group(1)
    dims = [re.findall(r'"(\w+)"', s) for s in re.findall(r"\[([^\]]+)\]", sets)]
    return namespace, dims, set(re.findall(r'\("(\w+)",\s*"(?:Count|Bytes|Milliseconds)"\)', body))


def test_fn_ingests_output_alarms_are_metric_math_over_the_emf_metrics_it_emits(deployment):
    namespace, dims, emitted = emf_metrics()
    obs = load(OBSERVABILITY)
    assert obs.locals["emf"]["namespace"] == namespace == "loglake" and ["function"] in dims
    metrics = obs.locals["output_metrics"]
    assert metrics == {"lines": "LinesIn", "rows": "RowsOut", "quarantined": "Quarantined"}
    assert set(metrics.values()) <= emitted, f"fn-ingest emits {sorted(emitted)}"
    kinds = obs.locals["output_alarm_kinds"]
    assert set(kinds) == {"quarantine_ratio", "rows_stopped"}
    for kind, a in kinds.items():
        ids = set(re.findall(r"\b([a-z]+)\b", a["expression"])) - {"if", "and", "fill"}
        assert ids == set(a["metrics"]) <= set(metrics), kind
    assert kinds["quarantine_ratio"]["expression"] == "IF(lines > 0, FILL(quarantined, 0) / lines, 0)"
    assert expr(kinds["quarantine_ratio"]["threshold"]) == "var.quarantine_ratio_threshold"
    assert kinds["rows_stopped"]["expression"] == "IF(lines > 0 AND FILL(rows, 0) == 0, 1, 0)" and kinds["rows_stopped"]["threshold"] == 0
    assert expr(obs.locals["ingest_functions"]) == '{for k, f in var.functions : k => f if k == "ingest"}'
    root = load(INFRA)
    assert root.variables["ingest_quarantine_ratio_alarm"]["default"] == 0.2
    assert expr(root.modules["observability"]["quarantine_ratio_threshold"]) == "var.ingest_quarantine_ratio_alarm"
    # As AWS gets them: each metric of fn-ingest's function dimension, summed over 5 minutes.
    for kind in kinds:
        alarm = deployment.root.module("observability").resource("aws_cloudwatch_metric_alarm", "output")[f"{kind}/ingest"]
        assert alarm.attr("comparison_operator") == "GreaterThanThreshold" and alarm.attr("treat_missing_data") == "notBreaching"
        assert alarm.attr("alarm_actions") == alarm.attr("ok_actions") == [deployment.root.module("alerts").get("topic_arn")]
        queries = alarm.blocks("metric_query")
        (result,) = [q for q in queries if alarm.attr("return_data", scope=q)]
        assert alarm.attr("expression", scope=result) == kinds[kind]["expression"]
        read = {}
        for q in queries:
            if q is result:
                continue
            (m,) = alarm.blocks("metric", scope=q)
            assert alarm.attr("namespace", scope=m) == "loglake" and alarm.attr("stat", scope=m) == "Sum" and alarm.attr("period", scope=m) == 300
            assert alarm.attr("dimensions", scope=m) == {"function": "loglake-fn-ingest"}
            read[alarm.attr("id", scope=q)] = alarm.attr("metric_name", scope=m)
        assert read == {i: metrics[i] for i in kinds[kind]["metrics"]}, kind
    threshold = deployment.root.module("observability").resource("aws_cloudwatch_metric_alarm", "output")["quarantine_ratio/ingest"].attr("threshold")
    assert threshold == 0.2


def test_codedeploys_role_moves_the_aliases_reads_the_alarms_and_runs_the_hook_only(deployment):
    d = deployment
    fns = [f"loglake-fn-{k}" for k in ("ingest", "stream", "alerts", "collect")]
    arns = {d.function_arn(f) for f in fns}
    alarms = {a for g in d.groups().values() for a in g.attr("alarms", scope=single(g.blocks("alarm_configuration")))}
    statements = {st["Sid"]: st for st in d.role_policy()}
    assert list(statements) == ["ShiftLiveAliases", "ReadProvisionedConcurrency", "ReadRollbackAlarms", "RunPreTrafficHooks"]
    for st in statements.values():
        assert st["Effect"] == "Allow" and "Condition" not in st
    got = {sid: (st["Action"], sorted(st["Resource"])) for sid, st in statements.items()}
    assert got == {
        "ShiftLiveAliases": (["lambda:GetAlias", "lambda:UpdateAlias"], sorted(arns | {a + ":live" for a in arns})),
        "ReadProvisionedConcurrency": (["lambda:GetProvisionedConcurrencyConfig"], sorted(a + ":*" for a in arns)),
        "ReadRollbackAlarms": (["cloudwatch:DescribeAlarms"], sorted(d.alarm_arn(a) for a in alarms)),
        "RunPreTrafficHooks": (["lambda:InvokeFunction"], [d.function_arn("loglake-fn-canary")]),
    }
    # Trusted by CodeDeploy, for this application's groups of this account.
    m = load(CODEDEPLOY)
    (st,) = m.data[("aws_iam_policy_document", "assume")]["statement"]
    assert st["actions"] == ["sts:AssumeRole"] and st["principals"][0]["identifiers"] == ["codedeploy.amazonaws.com"]
    conditions = {(c["test"], c["variable"]): c["values"] for c in st["condition"]}
    assert conditions == {("StringEquals", "aws:SourceAccount"): ["${var.account_id}"],
                          ("ArnLike", "aws:SourceArn"): ["${local.group_arn}/*"]}
    assert m.locals["group_arn"] == "arn:${var.partition}:codedeploy:${var.region}:${var.account_id}:deploymentgroup:${local.application}"
    role = m.of_type("aws_iam_role")["this"]
    assert role["name"] == "${var.name_prefix}-codedeploy" and root_values(CODEDEPLOY, expr(role["permissions_boundary"])) == {"module.boundary.arn"}
    # The hook's grant only with a hook (none in a collect region).
    (hooks,) = [r for r in policy_renders() if r.template == "codedeploy-hooks.json.tftpl"]
    assert hooks.module == CODEDEPLOY and hooks.condition == "local.hooked" and expr(m.locals["hooked"]) == "length(var.hooks) > 0"


def test_fn_canary_gets_its_settings_and_exactly_its_grants(deployment):
    d = deployment
    raw = d.root.module("storage").get("raw_bucket")
    curated = d.root.module("storage").get("curated_bucket")
    # CURATED_PREFIX is fn-ingest's (empty: left out, as modules/lambda leaves empty values).
    assert d.environment("ingest", "canary") == {"CANARY_BUCKET": raw, "CANARY_PREFIX": CANARY_PREFIX, "CURATED_BUCKET": curated}
    ingest_env = d.environment("ingest")
    assert ingest_env["CANARY_PREFIX"] == CANARY_PREFIX and ingest_env["CURATED_BUCKET"] == curated and "CURATED_PREFIX" not in ingest_env
    m = load(INGEST)
    canary, ingest = m.modules["canary"], m.modules["function"]
    assert canary["binary"] == "fn-canary" and canary["source"] == "../lambda"
    assert set(canary["environment"]) == {"CANARY_BUCKET", "CANARY_PREFIX", "CURATED_BUCKET", "CURATED_PREFIX"}
    for k in ("CURATED_BUCKET", "CURATED_PREFIX", "CANARY_PREFIX"):
        assert canary["environment"][k] == ingest["environment"][k], k
    assert m.locals["canary_prefix"] == CANARY_PREFIX and m.locals["curated_prefix"] == ""
    # The policy: the hooked group, fn-ingest's versions, the canary prefixes, the key.
    raw_arn, curated_arn = f"arn:aws:s3:::{raw}", f"arn:aws:s3:::{curated}"
    group = f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentgroup:loglake-functions/loglake-fn-ingest"
    key = d.root.module("kms").get("key_arn")
    got = {st["Sid"]: st for st in d.canary_policy()}
    assert got == {
        "ReadDeployment": {"Sid": "ReadDeployment", "Effect": "Allow", "Action": ["codedeploy:GetDeployment"], "Resource": [group]},
        "ReportHook": {"Sid": "ReportHook", "Effect": "Allow", "Action": ["codedeploy:PutLifecycleEventHookExecutionStatus"], "Resource": [group]},
        "InvokeNewVersion": {"Sid": "InvokeNewVersion", "Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [d.function_arn("loglake-fn-ingest") + ":*"]},
        "PutCanaryObject": {"Sid": "PutCanaryObject", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [f"{raw_arn}/_canary/*"]},
        "ReadCanaryManifests": {"Sid": "ReadCanaryManifests", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{curated_arn}/_canary/_manifests/*"]},
        "ListCanary": {"Sid": "ListCanary", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [curated_arn],
                       "Condition": {"StringLike": {"s3:prefix": ["_canary/*"]}}},
        "BucketKeys": {"Sid": "BucketKeys", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": [key]},
    }
    # That group is the one whose AppSpec names fn-canary (below), and its ARN
    # is the deployment group's.
    assert d.groups()["ingest"].attr("deployment_group_name") == "loglake-fn-ingest"
    assert d.codedeploy.get("deployment_group_arns")["ingest"] == group
    # fn-ingest writes what it makes of a canary object under the same
    # prefix of the curated bucket, and reads its manifests back.
    own = {st["Sid"]: st for st in json.loads(d.ingest.module("function").resource("aws_iam_role_policy", "function").attr("policy"))["Statement"]}
    assert f"{curated_arn}/_canary/*" in own["WriteLake"]["Resource"]
    assert f"{curated_arn}/_canary/_manifests/*" in own["ReadOwnManifests"]["Resource"]
    assert any(r == f"{raw_arn}/*" for r in own["ReadRaw"]["Resource"])
    # The templates spell the prefix as modules/ingest does, and the curated
    # bucket expires what is under it.
    for template in ("fn-canary.json.tftpl", "fn-ingest.json.tftpl"):
        assert f"{CANARY_PREFIX}" in (POLICIES / template).read_text()
    rules = {r["id"]: r for r in load(INFRA / "modules" / "storage").of_type("aws_s3_bucket_lifecycle_configuration")["curated"]["rule"]}
    assert single_block(rules["canary"], "filter")["prefix"] == CANARY_PREFIX and rules["canary"]["expiration"][0]["days"] == 7


def test_fn_canary_is_no_trigger_target_and_not_deployed_by_codedeploy():
    root = load(INFRA)
    assert "canary" not in expr(root.locals["function_names"])
    assert "canary" not in expr(root.locals["deployed_functions"])
    # Only CodeDeploy invokes it (RunPreTrafficHooks); no permission, no mapping.
    m = load(INGEST)
    for rtype in [*TRIGGERS, *QUALIFIED]:
        for body in m.of_type(rtype).values():
            assert "module.canary" not in json.dumps(body)


def test_the_release_role_creates_and_follows_deployments_only():
    policies, _ = stage_role_statements_release()
    templates = {name: [r.template for r in rs] for name, rs in policies.items()}
    assert templates == {"common": ["cicd-build-common.json.tftpl"], "release": ["cicd-release.json.tftpl"]}
    # As IAM gets it, with CI/CD on.
    d = Deployment(enable_cicd=True, cicd_repository="my-org/loglake", cicd_state_bucket="state")
    cicd = d.root.module("cicd")[0]
    statements = json.loads(cicd.resource("aws_iam_role_policy", "release").attr("policy"))["Statement"]
    app = f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:application:loglake-functions"
    groups = sorted(f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentgroup:loglake-functions/loglake-fn-{k}" for k in ("alerts", "collect", "ingest", "stream"))
    got = {st["Sid"]: (st["Action"], sorted(st["Resource"])) for st in statements}
    assert all(st["Effect"] == "Allow" and "Condition" not in st for st in statements)
    assert got == {
        "Deployments": (["codedeploy:CreateDeployment", "codedeploy:GetDeployment"], groups),
        "Revisions": (["codedeploy:RegisterApplicationRevision", "codedeploy:GetApplicationRevision"], [app]),
        "DeploymentConfig": (["codedeploy:GetDeploymentConfig"], [f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentconfig:CodeDeployDefault.LambdaCanary10Percent5Minutes"]),
        "Versions": (["lambda:GetAlias", "lambda:ListVersionsByFunction"], sorted(d.function_arn(f"loglake-fn-{k}") for k in ("alerts", "collect", "ingest", "stream"))),
    }
    # The boundary allows reading AWS's predefined configurations, which no
    # role of the deployment manages.
    boundary = load(INFRA / "modules" / "boundary")
    assert list_value(INFRA / "modules" / "boundary", "local.aws_resources") == ["${local.arn}:codedeploy:${local.at}:deploymentconfig:CodeDeployDefault.Lambda*"]
    assert "deploymentconfig" not in json.dumps(boundary.locals["named_resources"])
    policy = json.loads(d.root.module("boundary").local("policy"))
    (managed,) = [st for st in policy["Statement"] if st["Sid"] == "ManagedResources"]
    assert f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentconfig:CodeDeployDefault.Lambda*" in managed["Resource"]
    assert f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:*:loglake-*" in managed["Resource"] and "codedeploy:*" in managed["Action"]


def stage_role_statements_release():
    _, project = stage_project("Deploy", "Release")
    role = re.fullmatch(r"aws_iam_role\.(\w+)\.arn", expr(project["service_role"])).group(1)
    assert role == "release"
    policies = role_renders(CICD, role)
    return policies, [st for rs in policies.values() for r in rs for st in r.statements()]


def test_why_json_explains_every_statement_of_the_roles_that_move_traffic():
    why = json.loads((POLICIES / "why.json").read_text())
    for template in ("codedeploy", "codedeploy-hooks", "cicd-release"):
        text = (POLICIES / f"{template}.json.tftpl").read_text()
        sids = [st["Sid"] for st in render_policy(text, {n: '["x"]' if f'": ${{{n}}}' in text else "x" for n in re.findall(r"\$\{(\w+)\}", text)})["Statement"]]
        assert sorted(why["roles"][template]) == sorted(sids), template
        assert all(len(r) > 40 for r in why["roles"][template].values())
    # fn-canary's calls no IAM-enforced test can make are said so (moto has
    # no hook status API and runs no Lambda code; GetDeployment it serves,
    # and the hook's test reads the AppSpec through it).
    for action in ("codedeploy:PutLifecycleEventHookExecutionStatus", "lambda:InvokeFunction"):
        assert f"{action}@fn-canary" in why["not_called_by_the_code"], action
    assert "codedeploy:GetDeployment@fn-canary" not in why["not_called_by_the_code"]


# --- the pipeline and make deploy ------------------------------------------------------


def test_the_pipeline_applies_then_releases_with_the_script_make_deploy_runs():
    apply, release = stage_action("Deploy", "Apply"), stage_action("Deploy", "Release")
    assert apply["run_order"] == 1 and release["run_order"] == 2
    assert release["input_artifacts"] == apply["output_artifacts"] == ["applied"]
    spec = yaml.safe_load((CICD / "deploy-buildspec.yml").read_text())
    run = spec["phases"]["build"]["commands"]
    assert run.index("terraform -chdir=infra apply -input=false tfplan") < run.index("terraform -chdir=infra output -json deployments > deployments.json")
    assert spec["artifacts"]["files"] == ["deployments.json", "scripts/deploy-functions.py"]
    plan = yaml.safe_load((CICD / "plan-buildspec.yml").read_text())
    assert "scripts/deploy-functions.py" in plan["artifacts"]["files"]
    _, project = stage_project("Deploy", "Release")
    assert expr(single_block(project, "source")["buildspec"]) == 'file("${path.module}/release-buildspec.yml")'
    assert project["build_timeout"] >= 140
    spec = yaml.safe_load((CICD / "release-buildspec.yml").read_text())
    assert [c for p in spec["phases"].values() for c in p["commands"]] == ["python3 scripts/deploy-functions.py --deployments deployments.json"]
    assert "terraform" not in json.dumps(spec)
    # make deploy: the same apply, then the same script.
    makefile = (ROOT / "Makefile").read_text()
    body = re.search(r"^deploy:.*?\n((?:\t.*\n)+)", makefile, re.M).group(1).splitlines()
    assert body == ["\t$(TERRAFORM) -chdir=infra apply -input=false tfplan", '\t$(PYTHON) scripts/deploy-functions.py --terraform "$(TERRAFORM)"']


# --- scripts/deploy-functions.py ------------------------------------------------------


def script():
    spec = importlib.util.spec_from_file_location("deploy_functions", ROOT / "scripts" / "deploy-functions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeAws:
    """The AWS CLI as the script calls it: aliases at `current`, latest
    versions at `latest`, deployments ending in `outcome`."""

    def __init__(self, current: dict, latest: dict, outcome=None, weights=None):
        self.current, self.latest, self.weights = current, latest, weights or {}
        self.outcome = outcome or {}
        self.calls, self.created, self.polls = [], {}, {}

    def __call__(self, args):
        self.calls.append(args)
        opt = {args[i]: args[i + 1] for i in range(2, len(args) - 1) if args[i].startswith("--")}
        op = tuple(args[:2])
        if op == ("lambda", "get-alias"):
            fn = opt["--function-name"]
            return {"Name": opt["--name"], "FunctionVersion": str(self.current[fn]),
                    "RoutingConfig": {"AdditionalVersionWeights": self.weights[fn]} if fn in self.weights else {}}
        if op == ("lambda", "list-versions-by-function"):
            fn = opt["--function-name"]
            return {"Versions": [{"Version": "$LATEST"}] + [{"Version": str(v)} for v in range(1, self.latest[fn] + 1)]}
        if op == ("deploy", "create-deployment"):
            dep = f"d-{len(self.created) + 1:09d}"
            self.created[dep] = dict(opt)
            return {"deploymentId": dep}
        if op == ("deploy", "get-deployment"):
            dep = opt["--deployment-id"]
            self.polls[dep] = self.polls.get(dep, 0) + 1
            group = self.created[dep]["--deployment-group-name"]
            if self.polls[dep] < 2:
                return {"deploymentInfo": {"deploymentId": dep, "status": "InProgress"}}
            return {"deploymentInfo": {"deploymentId": dep, **self.outcome.get(group, {"status": "Succeeded"})}}
        raise AssertionError(f"unexpected aws {args}")


def run(deployments, aws, *argv, tmp_path):
    path = tmp_path / "deployments.json"
    path.write_text(json.dumps(deployments))
    out = io.StringIO()
    code = script().main(["--deployments", str(path), "--poll", "0", *argv], run=aws, out=out, sleep=lambda s: None)
    return code, out.getvalue()


def appspecs(aws) -> dict:
    """The AppSpec of each deployment started, by group."""
    out = {}
    for opt in aws.created.values():
        revision = json.loads(opt["--revision"])
        assert revision["revisionType"] == "AppSpecContent" and set(revision["appSpecContent"]) == {"content"}
        out[opt["--deployment-group-name"]] = json.loads(revision["appSpecContent"]["content"])
    return out


@pytest.fixture(scope="module")
def deployments(deployment) -> list[dict]:
    """The root's deployments output, as `terraform output -json deployments` prints it."""
    return deployment.root.get("deployments")


def test_the_deployments_output_names_every_function_its_group_and_the_hook_of_fn_ingest_only(deployments):
    assert sorted(deployments, key=lambda d: d["function_name"]) == [
        {"region": REGION, "application": "loglake-functions", "deployment_group": f"loglake-fn-{k}", "function_name": f"loglake-fn-{k}",
         "alias": "live", "hook": "loglake-fn-canary" if k == "ingest" else None}
        for k in ("alerts", "collect", "ingest", "stream")
    ]
    root = load(INFRA)
    assert expr(root.outputs["deployments"]["value"]) == "concat(module.codedeploy.deployments, flatten([for s in local.collect_region_stacks : s.deployments]))"
    assert expr(load(REGION_MODULE).outputs["deployments"]["value"]) == "module.codedeploy.deployments"


def test_the_appspec_shifts_the_alias_with_the_hook_for_fn_ingest_only(deployments, tmp_path):
    names = [d["function_name"] for d in deployments]
    aws = FakeAws(current={n: 3 for n in names}, latest={n: 5 for n in names})
    code, out = run(deployments, aws, tmp_path=tmp_path)
    assert code == 0, out
    specs = appspecs(aws)
    assert sorted(specs) == sorted(names)
    for d in deployments:
        name = d["function_name"]
        expected = {"version": 0.0, "Resources": [{name: {"Type": "AWS::Lambda::Function", "Properties": {
            "Name": name, "Alias": "live", "CurrentVersion": "3", "TargetVersion": "5"}}}]}
        if name == "loglake-fn-ingest":
            expected["Hooks"] = [{"BeforeAllowTraffic": "loglake-fn-canary"}]
        assert specs[name] == expected, name
    # Each in its application and region, all started before any is followed.
    kinds = [tuple(c[:2]) for c in aws.calls]
    assert max(i for i, k in enumerate(kinds) if k == ("deploy", "create-deployment")) < kinds.index(("deploy", "get-deployment"))
    for c in aws.calls:
        assert c[-2:] == ["--region", REGION]
    assert all(o["--application-name"] == "loglake-functions" for o in aws.created.values())
    assert "4 deployment(s) succeeded" in out


def test_a_current_alias_is_left_alone_and_a_dry_run_starts_nothing(deployments, tmp_path):
    names = [d["function_name"] for d in deployments]
    behind = "loglake-fn-stream"
    aws = FakeAws(current={n: 7 for n in names}, latest={n: 8 if n == behind else 7 for n in names})
    code, out = run(deployments, aws, "--dry-run", tmp_path=tmp_path)
    assert code == 0 and not aws.created
    assert not [c for c in aws.calls if c[0] == "deploy"]
    assert "loglake-fn-ingest (eu-west-1): live is at version 7, the latest: nothing to deploy" in out
    assert f"{behind}: would deploy live 7 -> 8 with loglake-functions/{behind}" in out
    printed = json.loads(out[out.index("AppSpec:") + len("AppSpec:"):])
    assert printed["Resources"][0][behind]["Properties"] == {"Name": behind, "Alias": "live", "CurrentVersion": "7", "TargetVersion": "8"}
    assert "Hooks" not in printed
    # Only what is asked for.
    aws = FakeAws(current={n: 1 for n in names}, latest={n: 2 for n in names})
    code, out = run(deployments, aws, "--function", "loglake-fn-ingest", tmp_path=tmp_path)
    assert code == 0 and list(appspecs(aws)) == ["loglake-fn-ingest"]


def test_a_deployment_that_fails_or_rolls_back_fails_the_run_naming_it(deployments, tmp_path):
    names = [d["function_name"] for d in deployments]
    stopped = {"status": "Stopped", "errorInformation": {"code": "ALARM_ACTIVE", "message": "One or more alarms have been activated"},
               "rollbackInfo": {"rollbackDeploymentId": "d-ROLLBACK1", "rollbackMessage": "Rolled back by alarm"}}
    failed = {"status": "Failed", "errorInformation": {"code": "HOOK_FAILED", "message": "BeforeAllowTraffic hook failed"}}
    aws = FakeAws(current={n: 1 for n in names}, latest={n: 2 for n in names},
                  outcome={"loglake-fn-stream": stopped, "loglake-fn-ingest": failed})
    code, out = run(deployments, aws, tmp_path=tmp_path)
    assert code == 1
    ids = {o["--deployment-group-name"]: dep for dep, o in aws.created.items()}
    assert f"FAILED loglake-fn-stream: deployment {ids['loglake-fn-stream']} Stopped: ALARM_ACTIVE: One or more alarms have been activated (rolled back: d-ROLLBACK1 Rolled back by alarm)" in out
    assert f"FAILED loglake-fn-ingest: deployment {ids['loglake-fn-ingest']} Failed: HOOK_FAILED: BeforeAllowTraffic hook failed" in out
    assert f"loglake-fn-alerts: deployment {ids['loglake-fn-alerts']} (live 1 -> 2): Succeeded" in out
    # An alias mid-shift (a deployment in progress) is refused, the others deployed.
    aws = FakeAws(current={n: 1 for n in names}, latest={n: 2 for n in names}, weights={"loglake-fn-alerts": {"2": 0.1}})
    code, out = run(deployments, aws, tmp_path=tmp_path)
    assert code == 1 and "loglake-fn-alerts" not in appspecs(aws) and len(appspecs(aws)) == 3
    assert "live is shifting between version 1 and 2 already" in out


def test_the_script_reads_terraforms_output_either_way(deployments, tmp_path):
    names = [d["function_name"] for d in deployments]
    aws = FakeAws(current={n: 2 for n in names}, latest={n: 2 for n in names})
    # `terraform output -json` (every output) wraps each value.
    code, out = run({"value": deployments, "type": "list", "sensitive": False}, aws, tmp_path=tmp_path)
    assert code == 0 and out.count("nothing to deploy") == len(names)
    with pytest.raises(SystemExit):
        run([{"function_name": "x"}], aws, tmp_path=tmp_path)


# --- make local ------------------------------------------------------------------------


def test_make_local_evaluates_the_codedeploy_application_and_groups():
    """What scripts/local-aws.py apply creates of this issue, with a provider
    that only records (tests/test_aws_log_sources.py does the rest)."""
    local_aws = sources.load_local_aws()
    assert local_aws.SUPPORTED[-2:] == ["aws_codedeploy_app", "aws_codedeploy_deployment_group"]
    created = []

    def record(res):
        created.append((res.type, res.address))
        return stand_in(res)

    ev = Evaluator(str(INFRA), {"region": REGION, "enable_collect": True}, record, account=ACCOUNT, region=REGION)
    modules = list(ev.root.all_modules())
    provider = local_aws.LocalAws(REGION, ACCOUNT)
    for rtype in ("aws_codedeploy_app", "aws_codedeploy_deployment_group"):
        for module in modules:
            for res in module.all_resources(rtype):
                res.get("id")
    groups = sorted(a for t, a in created if t == "aws_codedeploy_deployment_group")
    assert groups == [f'module.codedeploy.aws_codedeploy_deployment_group.this["{k}"]' for k in ("alerts", "collect", "ingest", "stream")]
    assert hasattr(provider, "aws_codedeploy_app") and hasattr(provider, "aws_codedeploy_deployment_group")
    # fn-canary's environment file, as every function's.
    envs = local_aws.function_environments(modules)
    assert envs["fn-canary"] == {"CANARY_BUCKET": f"loglake-raw-{ACCOUNT}-{REGION}", "CANARY_PREFIX": CANARY_PREFIX,
                                 "CURATED_BUCKET": f"loglake-curated-{ACCOUNT}-{REGION}"}
    assert envs["fn-ingest"]["CANARY_PREFIX"] == CANARY_PREFIX


def test_make_local_creates_them_in_the_local_aws(tmp_path):
    endpoint = os.environ.get("LOGLAKE_TEST_ENDPOINT")
    if not endpoint:
        pytest.skip("needs the local AWS: run with `make test` (LOGLAKE_TEST_ENDPOINT)")
    import boto3

    prefix = f"cd{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true")
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "local-aws.py"), "--env-dir", str(tmp_path), "apply",
                        "--var", f'name_prefix="{prefix}"', "--var", "enable_collect=true"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cd = boto3.client("codedeploy", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    app = f"{prefix}-functions"
    assert cd.get_application(applicationName=app)["application"]["computePlatform"] == "Lambda"
    outputs = json.loads((tmp_path / "outputs.json").read_text())
    assert sorted(d["deployment_group"] for d in outputs["deployments"]) == sorted(f"{prefix}-fn-{k}" for k in ("alerts", "collect", "ingest", "stream"))
    for d in outputs["deployments"]:
        g = cd.get_deployment_group(applicationName=app, deploymentGroupName=d["deployment_group"])["deploymentGroupInfo"]
        assert g["deploymentStyle"] == {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}
        assert g["autoRollbackConfiguration"] == {"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]}
        assert g["deploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
        assert g["serviceRoleArn"].endswith(f":role/{prefix}-codedeploy")
        assert d["hook"] == (f"{prefix}-fn-canary" if d["function_name"] == f"{prefix}-fn-ingest" else None)


def test_the_boundary_allows_each_grant_of_the_new_roles_on_its_resources():
    """Action by action and ARN by ARN, as IAM evaluates a boundary (Allow
    statements; the Denies are about IAM itself): CodeDeploy's role,
    fn-canary's and the release role's grants, and fn-ingest's canary ones."""
    import fnmatch

    d = Deployment(enable_cicd=True, cicd_repository="my-org/loglake", cicd_state_bucket="state")
    boundary = [st for st in json.loads(d.root.module("boundary").local("policy"))["Statement"] if st["Effect"] == "Allow"]

    def allowed(action: str, arn: str) -> bool:
        return any(any(fnmatch.fnmatchcase(action, a) for a in st["Action"]) and any(fnmatch.fnmatchcase(arn, r) for r in st["Resource"]) for st in boundary)

    cicd = d.root.module("cicd")[0]
    grants = d.role_policy() + d.canary_policy() + json.loads(cicd.resource("aws_iam_role_policy", "release").attr("policy"))["Statement"]
    ingest = json.loads(d.ingest.module("function").resource("aws_iam_role_policy", "function").attr("policy"))["Statement"]
    grants += [st for st in ingest if any("_canary" in r for r in st["Resource"])]
    checked = 0
    for st in grants:
        for action in st["Action"]:
            for arn in st["Resource"]:
                # A pattern is allowed when an instance of it is: <arn>:* by <arn>:1.
                instance = arn.replace("*", "1")
                assert allowed(action, instance), f"{st['Sid']}: the boundary refuses {action} on {arn}"
                checked += 1
    assert checked > 40
