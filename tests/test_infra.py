"""The Terraform in infra/, checked offline against the workspace it deploys.

The AWS provider cannot be downloaded here, so `terraform validate` cannot
run; these tests parse the HCL (python-hcl2) and hold it to the Rust side:
every function binary is deployed from its cargo-lambda zip, every variable a
function's config requires is set and every variable set is one it reads, the
Glue table is the lake's schema (from `loglake schema` and from schema.rs),
partition projection matches, the summary table is summary.rs's columns
projected as the logs are and its views name only its columns, the
dashboards read the metric names the functions emit, event source mappings report partial batch
failures, queues outlast their functions; the IAM policy templates in
infra/policies render (as templatefile() does) to valid IAM JSON with exactly
the variables their Terraform passes, shared statements are written once, no
statement grants `*` nor names every KMS key; every role carries the
permission boundary; the pipeline's build stage (third-party code) reaches
only its logs, artifacts and key, and its deploy stage creates roles only
with the boundary; every alarm keeps its definition and former address.
`scripts/check-infra.sh` runs terraform fmt and checkov.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import hcl2
import pytest

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
CRATES = ROOT / "crates"
LAMBDA_MODULE = INFRA / "modules" / "lambda"

# --- reading the HCL ----------------------------------------------------------


def unquote(v):
    """python-hcl2 keeps string quotes ('"x"'); expressions stay '${...}'."""
    if isinstance(v, str):
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            return v[1:-1]
        return v
    if isinstance(v, list):
        return [unquote(x) for x in v]
    if isinstance(v, dict):
        return {unquote(k): unquote(x) for k, x in v.items() if k not in ("__is_block__", "__comments__")}
    return v


def expr(v) -> str:
    """An attribute as expression text, without the ${ } wrapper."""
    v = unquote(v)
    if isinstance(v, str) and v.startswith("${") and v.endswith("}"):
        return v[2:-1]
    return v


@dataclass
class Module:
    """The .tf files of one directory, merged."""

    path: Path
    resources: dict = field(default_factory=dict)  # (type, name) -> body
    data: dict = field(default_factory=dict)
    modules: dict = field(default_factory=dict)  # name -> body
    variables: dict = field(default_factory=dict)
    locals: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)

    def of_type(self, rtype: str) -> dict:
        return {n: b for (t, n), b in self.resources.items() if t == rtype}


@functools.cache
def load(path: Path) -> Module:
    m = Module(path)
    for f in sorted(path.glob("*.tf")):
        with f.open() as fh:
            doc = unquote(hcl2.load(fh))
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    m.resources[(rtype, name)] = body
        for block in doc.get("data", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    m.data[(rtype, name)] = body
        for block in doc.get("module", []):
            m.modules.update(block)
        for block in doc.get("variable", []):
            m.variables.update(block)
        for block in doc.get("locals", []):
            m.locals.update(block)
        for block in doc.get("output", []):
            m.outputs.update(block)
    return m


@dataclass
class Call:
    """One module call: where it is, what it calls, with which arguments."""

    caller: Path
    name: str
    target: Path
    args: dict


@functools.cache
def calls() -> tuple[Call, ...]:
    """Every local module call reachable from the root module."""
    out, todo, seen = [], [INFRA], set()
    while todo:
        here = todo.pop()
        if here in seen:
            continue
        seen.add(here)
        for name, body in load(here).modules.items():
            target = (here / body["source"]).resolve()
            assert target.is_dir(), f"{here}: module {name} has no source {body['source']}"
            out.append(Call(here, name, target, body))
            todo.append(target)
    return tuple(out)


def all_modules() -> list[Module]:
    return [load(INFRA)] + [load(p) for p in sorted({c.target for c in calls()})]


def single_block(body: dict, key: str) -> dict:
    blocks = body.get(key)
    assert isinstance(blocks, list) and len(blocks) == 1, f"expected one {key} block, got {blocks!r}"
    return blocks[0]


def resolve(module: Path, value, depth: int = 0) -> int:
    """A number as Terraform would see it with default variables: literals,
    var.X through the module calls up to the root's defaults, and N * var.X."""
    assert depth < 10, f"cannot resolve {value!r}"
    if isinstance(value, (int, float)):
        return value
    e = expr(value).strip()
    if re.fullmatch(r"\d+", e):
        return int(e)
    if m := re.fullmatch(r"(\d+)\s*\*\s*(var\.\w+)", e):
        return int(m.group(1)) * resolve(module, "${" + m.group(2) + "}", depth + 1)
    if m := re.fullmatch(r"var\.(\w+)", e):
        name = m.group(1)
        callers = [c for c in calls() if c.target == module]
        if not callers:
            default = load(module).variables[name].get("default")
            assert default is not None, f"root variable {name} has no default"
            return resolve(module, default, depth + 1)
        values = {resolve(c.caller, c.args[name], depth + 1) for c in callers}
        assert len(values) == 1, f"{module.name}: var.{name} differs between callers: {values}"
        return values.pop()
    raise AssertionError(f"{module}: cannot evaluate {value!r}; keep it a literal, var.X or N * var.X")


def root_values(module: Path, e: str, depth: int = 0) -> set[str]:
    """What an expression of a module is in the root module's terms: var.X
    followed through every call of the module up to the root (each caller's
    argument X), anything else as written."""
    assert depth < 10, f"cannot follow {e!r}"
    e = e.strip()
    if m := re.fullmatch(r"var\.(\w+)", e):
        callers = [c for c in calls() if c.target == module]
        if callers:
            out = set()
            for c in callers:
                assert m.group(1) in c.args, f"{c.caller}: module {c.name} does not set {m.group(1)}"
                out |= root_values(c.caller, expr(c.args[m.group(1)]), depth + 1)
            return out
    return {e}


def conditional(e: str) -> tuple[str, str] | None:
    """The two results of a top-level `condition ? a : b`, else None."""
    depth, in_string, question, i = 0, False, None, 0
    while i < len(e):
        c = e[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and c == "?" and question is None:
            question = i
        elif depth == 0 and c == ":" and question is not None:
            return e[question + 1 : i].strip(), e[i + 1 :].strip()
        i += 1
    return None


def list_value(module: Path, e: str, depth: int = 0) -> list[str]:
    """A list as Terraform would build it, symbolically: a literal list, a
    local, concat(...) of those, var.X through the module's caller, and
    module.M.OUTPUT through M's output. Each element is its text or, for a
    reference, "${reference}"; what cannot be followed stays "${expression}"."""
    assert depth < 20, f"cannot follow {e!r}"
    e = e.strip()

    def written(x: str) -> str:
        """An element of a list written in an expression: "text" or a reference."""
        return x[1:-1] if x.startswith('"') and x.endswith('"') else "${" + x + "}"

    if m := re.fullmatch(r"local\.(\w+)", e):
        v = load(module).locals[m.group(1)]
        if isinstance(v, list):
            return list(v)
        return list_value(module, expr(v), depth + 1)
    if e.startswith("[") and closing(e, 0) == len(e) - 1:
        if e[1:].lstrip().startswith("for "):
            # [for s in LIST : "text ${s.x}" if COND]: one element standing
            # for each, as written.
            _, value = split_top(e[1:-1], ":")[:2]
            return [written(top_level_before(value, " if "))]
        return [written(x) for x in split_top(e[1:-1])]
    if e.startswith("concat(") and closing(e, len("concat")) == len(e) - 1:
        return [x for part in split_top(e[len("concat(") : -1]) for x in list_value(module, part, depth + 1)]
    if (m := re.match(r"(distinct|compact|toset|tolist)\(", e)) and closing(e, m.end() - 1) == len(e) - 1:
        # The same elements, symbolically (fewer, perhaps, in Terraform).
        return list_value(module, e[m.end() : -1], depth + 1)
    if branches := conditional(e):
        # Either list, as far as a policy is concerned: both.
        return [x for b in branches for x in list_value(module, b, depth + 1)]
    if m := re.fullmatch(r"var\.(\w+)", e):
        callers = [c for c in calls() if c.target == module]
        if callers:
            values = []
            for c in callers:
                arg = c.args[m.group(1)]
                values.append(list(arg) if isinstance(arg, list) else list_value(c.caller, expr(arg), depth + 1))
            assert all(v == values[0] for v in values), f"{module.name}: var.{m.group(1)} differs between callers"
            return values[0]
    if m := re.fullmatch(r"module\.(\w+)\.(\w+)", e):
        call = load(module).modules.get(m.group(1))
        if call:
            target = (module / call["source"]).resolve()
            out = load(target).outputs.get(m.group(2))
            if out is not None:
                value = out["value"]
                if isinstance(value, list):
                    return list(value)
                return list_value(target, expr(value), depth + 1)
    return ["${" + e + "}"]


def top_level_before(text: str, word: str) -> str:
    """text up to the first `word` outside brackets and strings (all of it
    when there is none)."""
    depth, in_string, i = 0, False, 0
    while i < len(text):
        c = text[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(word, i):
            return text[:i].strip()
        i += 1
    return text.strip()


# --- reading the workspace ----------------------------------------------------


def function_binaries() -> dict[str, Path]:
    """Every Lambda binary in the workspace (crates/fn-*): [[bin]] names, or
    the package name when src/main.rs is the binary. -> crate directory."""
    out = {}
    for manifest in sorted(CRATES.glob("fn-*/Cargo.toml")):
        cargo = tomllib.loads(manifest.read_text())
        bins = [b["name"] for b in cargo.get("bin", [])]
        if not bins and (manifest.parent / "src" / "main.rs").exists():
            bins = [cargo["package"]["name"]]
        for b in bins:
            out[b] = manifest.parent
    return out


ENV_NAME = r'"([A-Z][A-Z0-9_]*)"'
# std::env::var("X"), need("X"), env_or("X", ..), env_num("X", ..), var("X"),
# num("X", ..): a lower-case function or closure whose first argument is the name.
ENV_READ = re.compile(r"\b(?!set_var\b|remove_var\b)([a-z_][a-z0-9_]*)\s*\(\s*" + ENV_NAME)
ENV_REQUIRED = re.compile(r"(?:\bmissing\s*\(\s*|\brequire\s*\(\s*|\bneed\s*\(\s*)" + ENV_NAME)


def rust_sources(crate: Path) -> str:
    return "\n".join(p.read_text() for p in sorted((crate / "src").rglob("*.rs")))


@functools.cache
def workspace_sources() -> dict[Path, str]:
    return {p: p.read_text() for p in sorted(CRATES.glob("*/src/**/*.rs"))}


def workspace_dependencies(crate: Path) -> list[Path]:
    """The workspace crates a function depends on (loglake-core, loglake-aws):
    where shared settings types such as SearchConfig and AlertConfig live."""
    deps = set(tomllib.loads((crate / "Cargo.toml").read_text()).get("dependencies", {}))
    out = []
    for manifest in sorted(CRATES.glob("*/Cargo.toml")):
        if tomllib.loads(manifest.read_text()).get("package", {}).get("name") in deps:
            out.append(manifest.parent)
    return out


def env_reads(crate: Path) -> tuple[set[str], set[str]]:
    """(variables the function's config reads, those it requires). Settings
    read by a `Type::from_vars()` of a workspace crate the function depends on
    (the sinks' SinkConfig, SearchConfig and AlertConfig in loglake-handlers),
    followed transitively, count as read too; another function's `Config`
    does not."""
    src = rust_sources(crate)
    reads = {m.group(2) for m in ENV_READ.finditer(src)}
    required = set(ENV_REQUIRED.findall(src))
    deps = workspace_dependencies(crate)
    todo = set(re.findall(r"\b([A-Z]\w*)::from_(?:env|vars)\s*\(", src))
    seen = set()
    while todo:
        ty = todo.pop()
        seen.add(ty)
        for path, text in workspace_sources().items():
            if not any(path.is_relative_to(d) for d in deps):
                continue
            if re.search(rf"\bimpl\s+{ty}\b", text) and re.search(r"fn from_(env|vars)", text):
                reads |= {m.group(2) for m in ENV_READ.finditer(text)}
                todo |= set(re.findall(r"\b([A-Z]\w*)::from_(?:env|vars)\s*\(", text)) - seen
    # Free functions of loglake-handlers' config the crate imports and calls
    # with its vars (`formats(vars)`, `multiline_limits(vars)`).
    config = ROOT / "crates" / "handlers" / "src" / "config.rs"
    if any(path.is_relative_to(d) for d in deps for path in [config]):
        text = config.read_text()
        for name in re.findall(r"\b([a-z_]+)\(vars\)", src):
            m = re.search(rf"\npub fn {name}\b.*?\n}}\n", text, re.S)
            if m:
                reads |= {r.group(2) for r in ENV_READ.finditer(m.group(0))}
    return reads, required


# --- functions ----------------------------------------------------------------


def function_calls() -> dict[str, Call]:
    """binary -> the call of modules/lambda that deploys it."""
    out = {}
    for c in calls():
        if c.target == LAMBDA_MODULE:
            binary = c.args.get("binary")
            assert binary and "${" not in binary, f"{c.caller}: module {c.name} must name its binary literally"
            assert binary not in out, f"{binary} deployed twice"
            out[binary] = c
    return out


def test_the_workspace_has_function_binaries():
    assert {"fn-ingest", "fn-stream"} <= set(function_binaries())


def test_every_function_binary_is_deployed_and_nothing_else():
    deployed = set(function_calls())
    binaries = set(function_binaries())
    assert binaries - deployed == set(), f"binaries with no Lambda function in infra/: {binaries - deployed}"
    assert deployed - binaries == set(), f"infra/ deploys binaries the workspace does not build: {deployed - binaries}"


def test_functions_come_only_from_the_lambda_module():
    for m in all_modules():
        fns = m.of_type("aws_lambda_function")
        if m.path == LAMBDA_MODULE:
            assert list(fns) == ["this"]
        else:
            assert not fns, f"{m.path}: deploy functions through modules/lambda"


def test_lambda_module_deploys_the_cargo_lambda_zip():
    m = load(LAMBDA_MODULE)
    fn = m.of_type("aws_lambda_function")["this"]
    package = m.locals["package"]
    assert package == "${var.artifacts_dir}/${var.binary}/bootstrap.zip"
    assert expr(fn["filename"]) == "local.package"
    assert expr(fn["source_code_hash"]) == "filebase64sha256(local.package)"
    assert fn["runtime"] == "provided.al2023"
    assert fn["handler"] == "bootstrap"
    assert [expr(a) for a in fn["architectures"]] == ["var.architecture"]
    assert expr(fn["timeout"]) == "var.timeout_s"
    assert expr(fn["memory_size"]) == "var.memory_mb"
    assert expr(fn["role"]) == "aws_iam_role.this.arn"
    group = m.of_type("aws_cloudwatch_log_group")["this"]
    assert group["name"] == "/aws/lambda/${local.name}"
    assert expr(group["retention_in_days"]) == "var.log_retention_days"


def test_zips_default_to_where_cargo_lambda_writes_them():
    root = load(INFRA)
    assert root.locals["artifacts_dir"] == '${coalesce(var.artifacts_dir, "${path.module}/../target/lambda")}'
    assert root.variables["lambda_architecture"]["default"] == "arm64"
    for binary, c in function_calls().items():
        assert expr(c.args["artifacts_dir"]) == "var.artifacts_dir", binary
        assert expr(c.args["architecture"]) == "var.architecture", binary


def test_function_sizes_follow_the_benchmarks():
    sizes = {}
    for binary, c in function_calls().items():
        sizes[binary] = (resolve(c.caller, c.args["memory_mb"]), resolve(c.caller, c.args["timeout_s"]))
    # fn-ingest: ~230 MB/s per core; 2048 MB (1.2 vCPU) does a 1 GiB object
    # in seconds, and 300 s leaves room for the slowest formats.
    assert sizes["fn-ingest"][0] >= 2048 and sizes["fn-ingest"][1] >= 300
    assert sizes["fn-stream"][0] >= 512 and sizes["fn-stream"][1] >= 60
    if "fn-alerts" in sizes:
        # One evaluation a minute over small DynamoDB items.
        assert sizes["fn-alerts"] == (256, 60)
    for binary, (mem, timeout) in sizes.items():
        assert 128 <= mem <= 10240 and 1 <= timeout <= 900, binary


# Where the alert rules come from: one of them turns alerts on. Terraform
# sets ALERT_RULES_URI (the object modules/alerts uploads); ALERT_RULES and
# ALERT_RULES_FILE are for local runs. A config that requires "ALERT_RULES"
# (fn-alerts: `missing("ALERT_RULES", "is required (or ...)")`) is content
# with any of them.
RULES_SOURCES = {"ALERT_RULES", "ALERT_RULES_FILE", "ALERT_RULES_URI"}

# Settings modules/lambda applies all or nothing behind a switch (the search
# sink, the alert windows and instant alerts), and the variables that turn
# the feature on in the function's config: a setting the config requires
# only once a switch is set (`Missing("ALERT_WINDOWS_TABLE")` when a rules
# source is) is set whenever the group is.
GATED_ENVIRONMENTS = {"search_environment": {"SEARCH_ENDPOINT"}, "alerts_environment": RULES_SOURCES}


def gated_environment(c: Call, group: str) -> set[str]:
    env = c.args.get(group, {})
    assert isinstance(env, dict), f"{c.caller}: module {c.name}: {group} must be a literal map"
    return set(env)


def terraform_environment(c: Call) -> set[str]:
    env = c.args.get("environment")
    assert isinstance(env, dict), f"{c.caller}: module {c.name}: environment must be a literal map"
    names = set(env)
    for group in GATED_ENVIRONMENTS:
        names |= gated_environment(c, group)
    return names


@pytest.mark.parametrize("binary", sorted(function_binaries()))
def test_terraform_sets_every_required_variable(binary):
    crate = function_binaries()[binary]
    _, required = env_reads(crate)
    assert required, f"{crate}: found no required variable (Missing(\"X\") / need(\"X\")); has the config moved?"
    c = function_calls().get(binary)
    assert c is not None, f"{binary} is not deployed"
    env = set(c.args["environment"])
    missing = required - env
    # One rules source stands for any other.
    if env & RULES_SOURCES:
        missing -= RULES_SOURCES
    # Required only once the feature is on: set with its switch, or not at all.
    src = rust_sources(crate)
    for group, switches in GATED_ENVIRONMENTS.items():
        gated = gated_environment(c, group)
        if gated & switches and any(s in src for s in switches):
            missing -= gated
    assert not missing, f"{binary} requires {sorted(missing)} but Terraform does not always set them"


@pytest.mark.parametrize("binary", sorted(function_binaries()))
def test_terraform_sets_only_variables_the_config_reads(binary):
    crate = function_binaries()[binary]
    reads, _ = env_reads(crate)
    c = function_calls().get(binary)
    assert c is not None, f"{binary} is not deployed"
    unknown = terraform_environment(c) - reads
    assert not unknown, f"Terraform sets {sorted(unknown)} for {binary}, which its config never reads (typo?)"


def test_search_settings_are_set_only_with_search_and_sign_with_sigv4():
    root = load(INFRA)
    env = root.locals["search_environment"]
    assert env["SEARCH_AUTH"] == "sigv4" and env["SEARCH_SERVICE"] == "es"
    assert expr(env["SEARCH_ENDPOINT"]) == "one(module.search[*].endpoint_url)"
    assert root.variables["search_min_level"]["default"] == ""
    assert root.variables["search_index_prefix"]["default"] == "logs-"
    for binary, c in function_calls().items():
        if "search_environment" in c.args:
            assert expr(c.args["search_enabled"]) == "var.search.enabled", binary
    lam = load(LAMBDA_MODULE)
    fn = lam.of_type("aws_lambda_function")["this"]
    assert expr(single_block(fn, "environment")["variables"]) == "local.environment"
    variables = expr(lam.locals["environment"])
    assert "var.search_enabled ? var.search_environment : {}" in variables
    assert "var.alerts_enabled ? var.alerts_environment : {}" in variables


# --- the Glue catalog -----------------------------------------------------------


def glue_columns_from_schema_rs() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    src = (CRATES / "core" / "src" / "schema.rs").read_text()
    glue = dict(re.findall(r'ColumnType::(\w+)\s*=>\s*"([^"]+)"', src.split("fn glue", 1)[1].split("fn arrow", 1)[0]))
    body = src.split("pub const COLUMNS", 1)[1].split("];", 1)[0]
    columns = [(n, glue[t]) for n, t in re.findall(r'\(\s*"(\w+)"\s*,\s*ColumnType::(\w+)\s*\)', body)]
    keys_body = src.split("pub const PARTITION_KEYS", 1)[1].split("];", 1)[0]
    keys = re.findall(r'\(\s*"(\w+)"\s*,\s*"([^"]+)"\s*\)', keys_body)
    assert columns and keys
    return columns, keys


def loglake_schema_ddl() -> str | None:
    binary = os.environ.get("LOGLAKE_BIN")
    if not binary or not Path(binary).exists():
        return None
    return subprocess.run([binary, "schema", "--location", "s3://curated/logs/"], check=True, capture_output=True, text=True).stdout


def parse_ddl(ddl: str):
    body = ddl.split("(", 1)[1].split("\n)", 1)[0]
    columns = re.findall(r"^\s*`(\w+)`\s+(\S+?),?\s*$", body, re.M)
    keys = re.findall(r"`(\w+)`\s+(\w+)", ddl.split("PARTITIONED BY", 1)[1].split(")", 1)[0])
    props = dict(re.findall(r"'([^']+)'='([^']*)'", ddl.split("TBLPROPERTIES", 1)[1]))
    return columns, keys, props


def catalog():
    return load(INFRA / "modules" / "catalog")


def glue_table(name: str):
    table = catalog().of_type("aws_glue_catalog_table")[name]
    sd = single_block(table, "storage_descriptor")
    dyn = single_block(sd, "dynamic")
    content = dyn["columns"]
    assert expr(content["for_each"]) in ("local.columns", "local.quarantine_columns", "local.summary_columns")
    cols = catalog().locals[expr(content["for_each"]).split(".", 1)[1]]
    columns = [(c["name"], c["type"]) for c in cols]
    keys = [(k["name"], k["type"]) for k in table.get("partition_keys", [])]
    return table, sd, columns, keys


def test_glue_columns_equal_schema_rs():
    expected_columns, expected_keys = glue_columns_from_schema_rs()
    _, _, columns, keys = glue_table("logs")
    assert columns == expected_columns
    assert keys == expected_keys


def test_glue_table_equals_loglake_schema_output():
    ddl = loglake_schema_ddl()
    if ddl is None:
        pytest.skip("LOGLAKE_BIN not built; test_glue_columns_equal_schema_rs covers the columns")
    expected_columns, expected_keys, props = parse_ddl(ddl)
    table, _, columns, keys = glue_table("logs")
    assert columns == expected_columns
    assert keys == expected_keys
    params = table["parameters"]
    for k, v in props.items():
        if k.startswith("projection.") and k != "projection.dt.range":
            assert params.get(k) == v, k
    assert params["parquet.compression"] == props["parquet.compression"]


def test_logs_dedup_is_an_athena_view_over_logs():
    obs = catalog()
    view = obs.of_type("aws_glue_catalog_table")["logs_dedup"]
    assert view["table_type"] == "VIRTUAL_VIEW"
    assert view["parameters"]["presto_view"] == "true"
    assert view["view_original_text"].startswith("/* Presto View: ${base64encode(jsonencode(local.dedup_view))}")
    dyn = single_block(single_block(view, "storage_descriptor"), "dynamic")
    assert 'concat(local.columns, [{name = "dt", type = "string"}, {name = "hr", type = "string"}])' in expr(dyn["columns"]["for_each"]).replace('"', '"')
    # Every Hive type of the lake has its Trino spelling for the view.
    types = {c["type"] for c in obs.locals["columns"]}
    assert types <= set(obs.locals["presto_types"])
    sql = (INFRA / "views" / "logs_dedup.sql.tftpl").read_text()
    assert "PARTITION BY dt, hr, event_id" in sql and "WHERE copy = 1" in sql
    assert "event_id" in [c["name"] for c in obs.locals["columns"]]


def test_partition_projection():
    table, sd, _, _ = glue_table("logs")
    p = table["parameters"]
    assert p["projection.enabled"] == "true"
    assert p["projection.dt.type"] == "date"
    assert p["projection.dt.format"] == "yyyy-MM-dd"
    # The projection covers every time ingest accepts: from DEFAULT_MIN_TS_MS
    # to a day after now (max_future_ms), so no row lies outside it.
    start, end = p["projection.dt.range"].split(",")
    assert end == "NOW+1DAYS"
    assert start == "${var.lake_start_date}"
    opts = (CRATES / "core" / "src" / "ingest" / "options.rs").read_text()
    min_ms = int(re.search(r"DEFAULT_MIN_TS_MS: i64 = ([\d_]+);", opts).group(1).replace("_", ""))
    import datetime as dt
    first = dt.datetime.fromtimestamp(min_ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d")
    assert load(INFRA).variables["lake_start_date"]["default"] == first
    assert "max_future_ms: DAY_MS" in opts
    assert p["projection.dt.interval"] == "1" and p["projection.dt.interval.unit"] == "DAYS"
    assert p["projection.hr.type"] == "integer"
    assert p["projection.hr.range"] == "0,23"
    assert p["projection.hr.digits"] == "2"
    assert p["storage.location.template"] == "${local.logs_location}dt=$${dt}/hr=$${hr}/"
    assert catalog().locals["logs_location"] == "s3://${var.curated_bucket}/logs/"
    assert expr(sd["location"]) == "local.logs_location"
    assert single_block(sd, "ser_de_info")["serialization_library"].endswith("ParquetHiveSerDe")


def test_quarantine_table_reads_the_quarantine_ndjson():
    table, sd, columns, keys = glue_table("quarantine")
    assert keys == [("dt", "string")]
    assert table["parameters"]["projection.dt.format"] == "yyyy-MM-dd"
    assert catalog().locals["quarantine_location"] == "s3://${var.curated_bucket}/quarantine/"
    assert single_block(sd, "ser_de_info")["serialization_library"] == "org.openx.data.jsonserde.JsonSerDe"
    # The fields core's QuarantineRecord serializes.
    src = (CRATES / "core" / "src" / "ingest" / "quarantine.rs").read_text()
    struct = src.split("struct QuarantineRecord", 1)[1].split("}", 1)[0]
    fields = re.findall(r"^\s*(?:pub\s+)?(\w+)\s*:", struct, re.M)
    assert fields and [c for c, _ in columns] == fields


def test_athena_workgroup_and_named_queries():
    wg = catalog().of_type("aws_athena_workgroup")["lake"]
    conf = single_block(wg, "configuration")
    assert conf["enforce_workgroup_configuration"] is True
    assert expr(conf["bytes_scanned_cutoff_per_query"]) == "var.bytes_scanned_cutoff"
    enc = single_block(single_block(conf, "result_configuration"), "encryption_configuration")
    assert enc["encryption_option"] == "SSE_KMS"
    queries = catalog().locals["named_queries"]
    for name in [
        "errors-per-service-for-a-day",
        "error-summary-per-service-per-minute",
        "p95-latency-per-endpoint",
        "checkout-conversion-funnel",
        "unique-users-per-minute",
        "top-failing-paths",
        "top-client-ips-by-5xx",
        "vpc-top-rejected-sources-for-a-day",
        "cloudtrail-access-denied-by-principal-for-a-day",
        "cloudtrail-console-logins-without-mfa-for-a-day",
        "cloudtrail-root-account-use-for-a-day",
        "waf-top-blocked-ips-for-a-day",
        "waf-top-terminating-rules-for-a-day",
        "summary-errors-per-service-for-an-hour",
        "summary-revenue-per-currency-for-a-day",
        "summary-top-event-types-for-a-day",
    ]:
        assert name in queries, name
    schema = {c for c, _ in glue_columns_from_schema_rs()[0]} | {"dt", "hr"}
    for name, q in queries.items():
        sql = q["query"]
        assert "dt = ?" in sql, f"{name}: every query is bounded by a partition"
        # Every identifier that looks like a column is one.
        for ident in re.findall(r"\b(http_\w+|latency_ms|user_id|session_id|client_ip|event_type|error_type)\b", sql):
            assert ident in schema, f"{name}: {ident} is not a column"
        # A map subscript fails in Athena on a row without the key:
        # attributes are read with element_at (docs/querying.md).
        assert not re.search(r"attributes\s*\[", sql), f"{name}: element_at(attributes, 'KEY'), not attributes['KEY']"


# --- the summary table and its views ---------------------------------------------

# The summary's columns, in order, with their Glue types: one row per (minute,
# service). crates/core/src/summary.rs (`schema`) writes the same columns;
# the Glue table, its views and the Rust schema are each held to this list.
SUMMARY_COLUMNS = [
    ("minute", "timestamp"),
    ("service", "string"),
    ("records", "bigint"),
    ("errors", "bigint"),
    ("warnings", "bigint"),
    ("status_4xx", "bigint"),
    ("status_5xx", "bigint"),
    ("error_pct", "double"),
    ("latency_avg_ms", "double"),
    ("latency_p50_ms", "double"),
    ("latency_p95_ms", "double"),
    ("latency_p99_ms", "double"),
    ("unique_users", "bigint"),
    ("unique_sessions", "bigint"),
    ("orders", "bigint"),
    ("revenue", "map<string,double>"),
    ("events_by_type", "map<string,bigint>"),
]

# Each view's columns (before dt and hr, which every view keeps).
SUMMARY_VIEWS = {
    "summary_errors": [
        ("minute", "timestamp"), ("service", "string"), ("records", "bigint"), ("errors", "bigint"),
        ("error_pct", "double"), ("latency_avg_ms", "double"), ("latency_p95_ms", "double"),
    ],
    "summary_users": [("minute", "timestamp"), ("service", "string"), ("unique_users", "bigint"), ("unique_sessions", "bigint")],
    "summary_events": [("minute", "timestamp"), ("service", "string"), ("event_type", "string"), ("events", "bigint")],
    "summary_revenue": [("minute", "timestamp"), ("currency", "string"), ("revenue", "double")],
}

SQL_WORDS = {
    "select", "from", "as", "cross", "join", "unnest", "group", "by", "where", "and", "or", "order", "sum",
    "count", "max", "min", "avg", "round", "nullif", "distinct", "limit", "desc", "asc", "having",
}


def summary_rs_columns() -> list[tuple[str, str]] | None:
    """The columns of crates/core/src/summary.rs `schema()` with their Glue
    types, or None while that file does not exist."""
    path = CRATES / "core" / "src" / "summary.rs"
    if not path.exists():
        return None
    body = path.read_text().split("pub fn schema()", 1)[1].split("\n}\n", 1)[0]
    body = body.split("Schema::new(", 1)[1]
    out = []
    for m in re.finditer(r'(?:Field::new|\bint|\bfloat)\(\s*"(\w+)"\s*,?\s*([^\n]*)', body):
        name, rest = m.group(1), m.group(0)
        if m.group(0).startswith("int"):
            glue = "bigint"
        elif m.group(0).startswith("float"):
            glue = "double"
        elif "map(DataType::Float64)" in rest:
            glue = "map<string,double>"
        elif "map(DataType::Int64)" in rest:
            glue = "map<string,bigint>"
        else:
            # Field::new("x",\n DataType::..., on the next lines as rustfmt writes it
            after = body[m.end():m.end() + 120]
            ty = re.search(r"DataType::(\w+)", rest + after).group(1)
            glue = {"Utf8": "string", "Timestamp": "timestamp", "Int64": "bigint", "Float64": "double"}[ty]
        out.append((name, glue))
    return out


def test_summary_table_has_the_summary_columns_with_comments():
    table, sd, columns, keys = glue_table("summary")
    assert columns == SUMMARY_COLUMNS
    assert keys == [("dt", "string"), ("hr", "string")]
    assert table["table_type"] == "EXTERNAL_TABLE"
    for c in catalog().locals["summary_columns"]:
        # Glue keeps a column comment of up to 255 characters.
        assert 10 < len(c["comment"]) <= 255, c["name"]
    assert single_block(single_block(sd, "dynamic")["columns"], "content")["comment"] == "${columns.value.comment}"
    # What the functions and `loglake summary` write is this table.
    rust = summary_rs_columns()
    if rust is not None:
        assert rust == SUMMARY_COLUMNS, "crates/core/src/summary.rs schema() and the Glue table summary differ"
        src = (CRATES / "core" / "src" / "summary.rs").read_text()
        # Under the table's location, in its partitions, compressed as it says.
        assert re.search(r'"summary/dt=\{\w*(?::04)?\}-\{\w*(?::02)?\}-\{\w*(?::02)?\}/hr=\{\w*(?::02)?\}"', src)
        assert "summary.parquet" in src and "Compression::ZSTD" in src


def test_summary_partitions_are_projected_as_the_logs_are():
    logs, logs_sd, _, logs_keys = glue_table("logs")
    summary, sd, _, keys = glue_table("summary")
    assert keys == logs_keys
    projection = {k: v for k, v in logs["parameters"].items() if k.startswith("projection.")}
    assert projection and {k: v for k, v in summary["parameters"].items() if k.startswith("projection.")} == projection
    for k in ("EXTERNAL", "classification", "parquet.compression"):
        assert summary["parameters"][k] == logs["parameters"][k], k
    assert summary["parameters"]["storage.location.template"] == "${local.summary_location}dt=$${dt}/hr=$${hr}/"
    assert catalog().locals["summary_location"] == "s3://${var.curated_bucket}/summary/"
    assert expr(sd["location"]) == "local.summary_location"
    for k in ("input_format", "output_format"):
        assert sd[k] == logs_sd[k], k
    assert single_block(sd, "ser_de_info") == single_block(logs_sd, "ser_de_info")
    # The same bucket as the logs, which fn-alerts writes the summary to.
    assert root_values(INFRA / "modules" / "catalog", "var.curated_bucket") == {"module.storage.curated_bucket"}


def view_sql(name: str) -> str:
    return (INFRA / "views" / f"{name}.sql.tftpl").read_text()


def select_names(sql: str) -> list[str]:
    """The output column names of a SELECT, in order."""
    items = split_top(re.search(r"SELECT\s+(.*?)\s+FROM\s", sql, re.S | re.I).group(1))
    out = []
    for item in items:
        alias = re.search(r"\bAS\s+(\w+)\s*$", item, re.I)
        out.append(alias.group(1) if alias else re.search(r"(\w+)\s*$", item).group(1))
    return out


def test_summary_views_are_athena_views_naming_only_summary_columns():
    cat = catalog()
    views = cat.locals["summary_views"]
    assert set(views) == set(SUMMARY_VIEWS)
    resource = cat.of_type("aws_glue_catalog_table")["summary_view"]
    assert expr(resource["for_each"]) == "local.summary_views"
    assert resource["table_type"] == "VIRTUAL_VIEW" and resource["parameters"]["presto_view"] == "true"
    assert resource["view_original_text"].startswith("/* Presto View: ${base64encode(jsonencode(local.summary_view[each.key]))}")
    assert 'templatefile("${path.module}/../../views/${name}.sql.tftpl", {summary = local.summary})' in expr(cat.locals["summary_view"])
    assert cat.locals["summary"].replace('\\"', '"') == '"${aws_glue_catalog_database.lake.name}"."${aws_glue_catalog_table.summary.name}"'
    dyn = single_block(single_block(resource, "storage_descriptor"), "dynamic")
    assert 'concat(each.value.columns, [{name = "dt", type = "string"}, {name = "hr", type = "string"}])' in expr(dyn["columns"]["for_each"])
    summary = dict(SUMMARY_COLUMNS)
    for name, expected in SUMMARY_VIEWS.items():
        declared = [(c["name"], c["type"]) for c in views[name]["columns"]]
        assert declared == expected, name
        assert all(t in cat.locals["presto_types"] for _, t in declared), name
        # A view column named as a summary column is that column.
        for col, ty in declared:
            if col in summary and (name, col) != ("summary_revenue", "revenue"):
                assert ty == summary[col], f"{name}.{col}"
        sql = view_sql(name)
        assert "${summary}" in sql and set(re.findall(r"\$\{(\w+)\}", sql)) == {"summary"}, name
        # The SELECT gives the declared columns, then dt and hr (partition
        # pruning through the view), in that order.
        assert select_names(sql) == [c for c, _ in declared] + ["dt", "hr"], name
        if re.search(r"\bGROUP BY\b", sql, re.I):
            group = re.search(r"GROUP BY\s+(.*)$", sql, re.S | re.I).group(1)
            assert {"dt", "hr"} <= {g.split(".")[-1].strip() for g in group.split(",")}, f"{name}: group by dt, hr"
        # Every identifier is a summary column, a partition key, an alias
        # it makes, or SQL.
        body = re.sub(r"\$\{summary\}", "", sql)
        aliases = set(re.findall(r"\bAS\s+(\w+)", body, re.I))
        for unnest in re.findall(r"\bAS\s+\w+\s*\(([^)]*)\)", body, re.I):
            aliases |= {a.strip() for a in unnest.split(",")}
        words = set(re.findall(r"[A-Za-z_]\w*", body))
        unknown = {w for w in words if w.lower() not in SQL_WORDS and w not in summary and w not in ("dt", "hr") and w not in aliases}
        assert not unknown, f"{name} names {sorted(unknown)}, which are not columns of summary"


def test_summary_views_compute_what_they_say():
    """The views run by DuckDB over a few summary rows (UNNEST of a map is
    written for Athena; DuckDB gets the same join through map_entries)."""
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE summary AS SELECT * FROM (VALUES "
        "(TIMESTAMP '2024-03-14 09:01:00', 'api', 10, 2, 20.0, 5.0, 9.0, 1, 1, 3, MAP {'EUR': 10.0, 'USD': 5.0}, MAP {'view': 7, 'buy': 3}, '2024-03-14', '09'),"
        "(TIMESTAMP '2024-03-14 09:01:00', 'web', 4, 0, 0.0, 1.0, 2.0, 2, 2, 1, MAP {'EUR': 2.5}, MAP {'view': 4}, '2024-03-14', '09'),"
        "(TIMESTAMP '2024-03-14 10:00:00', 'api', 1, 1, 100.0, NULL, NULL, 0, 0, 0, MAP {}, MAP {}, '2024-03-14', '10')"
        ") AS t(minute, service, records, errors, error_pct, latency_avg_ms, latency_p95_ms, unique_users, unique_sessions, orders, revenue, events_by_type, dt, hr)"
    )

    def run(name: str, query: str):
        sql = view_sql(name).replace("${summary}", "summary")
        sql = re.sub(
            r"CROSS JOIN UNNEST\((\w+)\.(\w+)\) AS (\w+) \((\w+), (\w+)\)",
            lambda m: f"CROSS JOIN (SELECT unnest(map_entries({m[1]}.{m[2]})) AS kv) AS u_{m[3]} "
            f"CROSS JOIN (SELECT u_{m[3]}.kv.key AS {m[4]}, u_{m[3]}.kv.value AS {m[5]}) AS {m[3]}",
            sql,
        )
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
        return con.execute(query).fetchall()

    assert run("summary_errors", "SELECT service, errors, error_pct FROM summary_errors WHERE hr = '09' ORDER BY service") == [("api", 2, 20.0), ("web", 0, 0.0)]
    assert run("summary_users", "SELECT count(*) FROM summary_users WHERE dt = '2024-03-14'") == [(3,)]
    assert run("summary_events", "SELECT service, event_type, events FROM summary_events ORDER BY 1, 2") == [("api", "buy", 3), ("api", "view", 7), ("web", "view", 4)]
    # Revenue per currency over services; the orders of the services that took it.
    assert run("summary_revenue", "SELECT currency, revenue, hr FROM summary_revenue ORDER BY 1") == [("EUR", 12.5, "09"), ("USD", 5.0, "09")]


def test_summary_queries_read_the_views_and_name_their_columns():
    queries = catalog().locals["named_queries"]
    summary = [n for n in queries if n.startswith("summary-")]
    assert len(summary) >= 3
    for name in summary:
        # python-hcl2 keeps the heredoc's markers.
        sql = re.sub(r"^<<-?(\w+)\n(.*)\n\s*\1\s*$", r"\2", queries[name]["query"], flags=re.S)
        view = re.search(r'FROM \$\{local\.summary_views_sql\["(\w+)"\]\}', sql)
        assert view and view.group(1) in SUMMARY_VIEWS, f"{name}: reads a summary view"
        columns = {c for c, _ in SUMMARY_VIEWS[view.group(1)]} | {"dt", "hr"}
        assert "dt = ?" in sql, name
        body = re.sub(r"\$\{[^}]*\}", "", sql)
        aliases = set(re.findall(r"\bAS\s+(\w+)", body, re.I))
        words = {w for w in re.findall(r"[A-Za-z_]\w*", body) if not re.fullmatch(r"\d+", w)}
        unknown = {w for w in words if w.lower() not in SQL_WORDS and w not in columns and w not in aliases}
        assert not unknown, f"{name} names {sorted(unknown)}, not columns of {view.group(1)}"


# --- triggers -----------------------------------------------------------------


def event_source_mappings():
    for m in all_modules():
        for name, esm in m.of_type("aws_lambda_event_source_mapping").items():
            yield m, name, esm


def test_every_event_source_mapping_reports_batch_item_failures():
    found = list(event_source_mappings())
    assert len(found) >= 2
    for m, name, esm in found:
        assert esm.get("function_response_types") == ["ReportBatchItemFailures"], f"{m.path.name}.{name}"


def test_sqs_mapping_is_capped_and_queue_outlasts_the_function():
    seen = 0
    for m, name, esm in event_source_mappings():
        source = expr(esm["event_source_arn"])
        q = re.fullmatch(r"aws_sqs_queue\.(\w+)\.arn", source)
        if not q:
            continue
        seen += 1
        assert resolve(m.path, single_block(esm, "scaling_config")["maximum_concurrency"]) >= 2
        queue = m.of_type("aws_sqs_queue")[q.group(1)]
        fn = re.fullmatch(r"module\.(\w+)\.alias_arn", expr(esm["function_name"]))
        assert fn, f"{m.path.name}.{name}: function_name must be the live alias of a modules/lambda call"
        call = load(m.path).modules[fn.group(1)]
        timeout = resolve(m.path, call["timeout_s"])
        visibility = resolve(m.path, queue["visibility_timeout_seconds"])
        assert visibility >= 6 * timeout, f"{q.group(1)}: visibility {visibility}s < 6 x {timeout}s"
        redrive = re.search(r"maxReceiveCount\s*=\s*(\d+)", queue["redrive_policy"])
        assert redrive and 1 <= int(redrive.group(1)) <= 10
    assert seen >= 1


def test_kinesis_mapping_retries_finitely_and_keeps_failures():
    seen = 0
    for m, name, esm in event_source_mappings():
        if "aws_kinesis_stream" not in expr(esm["event_source_arn"]):
            continue
        seen += 1
        assert esm["bisect_batch_on_function_error"] is True
        # LATEST would skip what is in the stream when the mapping is made.
        assert esm["starting_position"] == "TRIM_HORIZON"
        retries = resolve(m.path, esm["maximum_retry_attempts"])
        age = resolve(m.path, esm["maximum_record_age_in_seconds"])
        assert 0 <= retries <= 10_000 and 60 <= age <= 604_800
        dest = single_block(single_block(esm, "destination_config"), "on_failure")
        assert re.fullmatch(r"aws_sqs_queue\.\w+\.arn", expr(dest["destination_arn"]))
    assert seen == 1


def test_firehose_lands_gzip_in_the_raw_bucket():
    stream = load(INFRA / "modules" / "stream")
    fh = stream.of_type("aws_kinesis_firehose_delivery_stream")["raw"]
    s3 = single_block(fh, "extended_s3_configuration")
    assert s3["compression_format"] == "GZIP"
    # fn-ingest knows forwarded records by this prefix (never by content).
    handlers = ROOT / "crates" / "handlers" / "src"
    src = next(f for f in (handlers / "ingest.rs", handlers / "ingest" / "mod.rs") if f.exists()).read_text()
    forwarded = re.search(r'pub const FORWARDED_PREFIX: &str = "([^"]+)";', src).group(1)
    assert s3["prefix"].startswith(forwarded)
    assert s3["error_output_prefix"] and not s3["error_output_prefix"].startswith(forwarded)
    root = load(INFRA)
    assert root.variables["firehose_buffer_size_mb"]["default"] == 64
    assert root.variables["firehose_buffer_interval_s"]["default"] == 60
    assert expr(s3["bucket_arn"]) == "var.raw_bucket_arn"


# --- IAM ----------------------------------------------------------------------

# Every permission policy of a role (the functions', Firehose's, the
# pipeline's) is a JSON template under infra/policies, rendered by Terraform's
# templatefile() with plain ${name} placeholders; optional parts are separate
# templates whose statements the Terraform concatenates. Trust and resource
# policies (assume-role, key, bucket, queue, topic, domain) stay
# aws_iam_policy_document data sources.
POLICIES = INFRA / "policies"
BOUNDARY = INFRA / "modules" / "boundary"
CICD = INFRA / "modules" / "cicd"
POLICY_PATH = re.compile(r'^"\$\{path\.module\}/\.\./\.\./policies/([\w.-]+\.json\.tftpl)"$')


def render_policy(text: str, values: dict[str, str]) -> dict:
    """A policy template rendered the way Terraform's templatefile() renders
    it: every ${name} replaced by values[name] ($${ stays a literal ${), then
    parsed as JSON. A placeholder without a value fails, as in Terraform."""
    assert "%{" not in text, "policy templates use plain ${name} placeholders, no %{ } directives"

    def value(m):
        if m.group(1):
            return "${" + m.group(2) + "}"
        name = m.group(2)
        assert re.fullmatch(r"\w+", name), f"${{{name}}}: only plain names, no expressions"
        if name not in values:
            raise KeyError(f"the template uses ${{{name}}}, which is not given")
        return values[name]

    return json.loads(re.sub(r"\$(\$?)\{([^}]*)\}", value, text))


def template_placeholders(text: str) -> dict[str, bool]:
    """Each ${name} of a template -> whether it stands for a whole JSON value
    (a list, given as jsonencode(...)) rather than sitting inside a string."""
    out: dict[str, set] = {}
    in_string = escaped = False
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            i += 3
            continue
        if text.startswith("${", i):
            end = text.index("}", i)
            out.setdefault(text[i + 2 : end], set()).add(not in_string)
            i = end + 1
            continue
        c = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        i += 1
    for name, kinds in out.items():
        assert len(kinds) == 1, f"${{{name}}} is used both as a JSON value and inside a string"
    return {name: kinds.pop() for name, kinds in out.items()}


def closing(text: str, start: int) -> int:
    """Index of the bracket closing the one at text[start], skipping strings
    (python-hcl2 writes expressions on one line)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack, in_string, i = [], False, start
    while i < len(text):
        c = text[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            assert stack and stack.pop() == c, f"unbalanced {text!r}"
            if not stack:
                return i
        i += 1
    raise AssertionError(f"unbalanced {text!r}")


def split_top(text: str, sep: str = ",") -> list[str]:
    """text split at `sep` outside brackets and strings."""
    parts, depth, in_string, last, i = [], 0, False, 0, 0
    while i < len(text):
        c = text[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[last:i])
            last = i + 1
        i += 1
    parts.append(text[last:])
    return [p.strip() for p in parts if p.strip()]


@dataclass(frozen=True)
class PolicyRender:
    """One templatefile() of a policy template in a module's HCL."""

    module: Path
    where: str  # the attribute holding it: module.function.policy_json, local.x, ...
    template: str  # file name under infra/policies
    args: tuple  # ((template variable, Terraform expression), ...) as written
    condition: str | None  # rendered only when this holds: var.alerts_enabled

    @property
    def text(self) -> str:
        return (POLICIES / self.template).read_text()

    def values(self, translate=lambda e: e) -> dict[str, str]:
        """What Terraform substitutes, symbolically: a reference becomes
        "${reference}" (as the aws_iam_policy_document blocks wrote it), a
        string literal its text, jsonencode(X) the list X is (list_value:
        a local's literal list, or a variable followed to where it is built).
        Inside a JSON string the text is escaped (an ARN never needs it, but
        a reference such as x["build"].arn does)."""
        out = {}
        for name, e in self.args:
            if m := re.fullmatch(r"jsonencode\((.*)\)", e):
                items = list_value(self.module, m.group(1))
                assert all(isinstance(x, str) for x in items), f"{self.where}: {m.group(1)} must be a list of strings"
                out[name] = json.dumps(items)
                continue
            m = re.fullmatch(r'"(.*)"', e)
            out[name] = json.dumps(m.group(1) if m else "${" + translate(e) + "}")[1:-1]
        return out

    def statements(self, translate=lambda e: e) -> list[dict]:
        return render_policy(self.text, self.values(translate))["Statement"]


def hcl_strings(value, where: str):
    """(where, text) of every string in a parsed HCL value."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, list):
        for v in value:
            yield from hcl_strings(v, where)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from hcl_strings(v, f"{where}.{k}")


@functools.cache
def policy_renders() -> tuple[PolicyRender, ...]:
    """Every templatefile() of infra/policies in the modules the root calls."""
    out = []
    for m in all_modules():
        blocks = [(f"local.{k}", v) for k, v in m.locals.items()]
        blocks += [(f"module.{k}", v) for k, v in m.modules.items()]
        blocks += [(f"{t}.{n}", b) for (t, n), b in m.resources.items()]
        blocks += [(f"data.{t}.{n}", b) for (t, n), b in m.data.items()]
        for name, body in blocks:
            for where, text in hcl_strings(body, name):
                for call in re.finditer(r"\btemplatefile\(", text):
                    inner = text[call.end() : closing(text, call.end() - 1)]
                    path, variables = split_top(inner)
                    found = POLICY_PATH.match(path)
                    if not found:
                        assert "policies" not in path, f"{m.path}: {where}: write {path} as \"${{path.module}}/../../policies/NAME\""
                        continue
                    assert variables.startswith("{") and variables.endswith("}"), f"{where}: variables must be an object literal"
                    args = []
                    for entry in split_top(variables[1:-1]):
                        key, _, e = entry.partition("=")
                        args.append((key.strip(), e.strip()))
                    guard = re.search(r"([\w.\[\]]+) \? jsondecode\($", text[: call.start()])
                    out.append(PolicyRender(m.path, where, found.group(1), tuple(args), guard and guard.group(1)))
    return tuple(out)


def renders_of(template: str) -> list[PolicyRender]:
    return [r for r in policy_renders() if r.template == template]


def policy_of(module: Path, resource: str) -> list[PolicyRender]:
    """The templates rendered into a policy resource's `policy` (written
    there, or in the local it names)."""
    body = load(module).resources[tuple(resource.split("."))]
    policy = expr(body["policy"])
    where = f"local.{local.group(1)}" if (local := re.fullmatch(r"local\.(\w+)", policy)) else f"{resource}.policy"
    return [r for r in policy_renders() if r.module == module and r.where == where]


def role_renders(module: Path, role: str) -> dict[str, list[PolicyRender]]:
    """Every policy of aws_iam_role.<role>: its inline policies by name, and
    the managed policies of the module attached to it, by resource."""
    m = load(module)
    out = {}
    for name, rp in m.of_type("aws_iam_role_policy").items():
        if expr(rp["role"]) == f"aws_iam_role.{role}.id":
            out[rp["name"]] = policy_of(module, f"aws_iam_role_policy.{name}")
    for name, att in m.of_type("aws_iam_role_policy_attachment").items():
        if expr(att["role"]) == f"aws_iam_role.{role}.name":
            policy = re.fullmatch(r"aws_iam_policy\.(\w+)\.arn", expr(att["policy_arn"]))
            assert policy, f"{module.name}.{name}: attach the module's own managed policies only"
            out[f"aws_iam_policy.{policy.group(1)}"] = policy_of(module, f"aws_iam_policy.{policy.group(1)}")
    return out


def normalized(st: dict) -> dict:
    """A template's statement in the shape of an aws_iam_policy_document block."""
    out = {"sid": st.get("Sid"), "effect": st.get("Effect"), "actions": st.get("Action"), "resources": st.get("Resource")}
    for key, name in (("NotAction", "not_actions"), ("NotResource", "not_resources"), ("Condition", "condition")):
        if key in st:
            out[name] = st[key]
    return out


def through(call: Call):
    """A modules/lambda expression in its caller's terms: var.X.rest -> the
    caller's argument X, .rest."""

    def translate(e: str) -> str:
        m = re.fullmatch(r"var\.(\w+)((?:\.\w+)*)", e)
        if m and m.group(1) in call.args:
            return expr(call.args[m.group(1)]) + m.group(2)
        return e

    return translate


# The optional parts of a function's own policy_json, by the switch its
# caller renders them under: fn-ingest's grants on the AWS log sources'
# buckets (modules/ingest, with aws_log_sources) and on their keys (when a
# source names one).
OWN_PARTS = {"local.aws_logs": "aws_logs", "local.aws_log_keys": "aws_logs"}


def function_policy(binary: str, search: bool = False, alerts: bool = False, aws_logs: bool = False) -> list[dict]:
    """The statements of a function's "function" role policy, with its
    caller's expressions for the ARNs: its own template (the policy_json the
    caller renders) and the optional parts the caller adds to it, then what
    modules/lambda adds with search and alerts."""
    c = function_calls()[binary]
    own = [r for r in policy_renders() if r.module == c.caller and r.where == f"module.{c.name}.policy_json"]
    assert own and own[0].condition is None and own[0].template == f"{binary}.json.tftpl", f"{binary}: policy_json must start with its unconditional {binary}.json.tftpl"
    assert all(r.condition in OWN_PARTS for r in own[1:]), f"{binary}: policy_json adds {[(r.template, r.condition) for r in own[1:]]}"
    parts = {"aws_logs": aws_logs}
    statements = [st for r in own if r.condition is None or parts[OWN_PARTS[r.condition]] for st in r.statements()]
    switches = {"var.search_enabled": search, "var.alerts_enabled": alerts}
    for r in policy_renders():
        if r.module == LAMBDA_MODULE and r.where == "aws_iam_role_policy.function.policy":
            assert r.condition in switches, f"modules/lambda adds {r.template} under {r.condition!r}"
            # Added when the feature is on and the caller switches it (the
            # switch defaults to false in modules/lambda).
            wired = c.args.get(r.condition.removeprefix("var."), False) not in (False, None)
            if switches[r.condition] and wired:
                statements += r.statements(through(c))
    return statements


def test_policy_templates_render_to_valid_iam_json():
    templates = sorted(POLICIES.glob("*.json.tftpl"))
    assert len(templates) >= 10
    assert {p.name for p in POLICIES.iterdir()} - {p.name for p in templates} <= {"README.md", "why.json"}, "infra/policies holds templates (and why.json) only"
    rendered = 0
    for path in templates:
        renders = renders_of(path.name)
        assert renders, f"{path.name} is rendered nowhere"
        for r in renders:
            doc = render_policy(path.read_text(), r.values())
            assert set(doc) == {"Version", "Statement"} and doc["Version"] == "2012-10-17", path.name
            assert isinstance(doc["Statement"], list) and doc["Statement"], path.name
            sids = [st.get("Sid") for st in doc["Statement"]]
            assert all(sids) and len(set(sids)) == len(sids), f"{path.name}: every statement has its own Sid"
            for st in doc["Statement"]:
                # NotResource only in a Deny (an Allow of everything but a
                # list is far too wide), and never with Resource.
                where = "NotResource" if st.get("Effect") == "Deny" and "NotResource" in st else "Resource"
                assert {"Effect", "Action", where} <= set(st), f"{path.name}: {st}"
                assert set(st) <= {"Sid", "Effect", "Action", where, "Condition"}, f"{path.name}: {st}"
                assert st["Effect"] in ("Allow", "Deny"), path.name
                assert isinstance(st["Action"], list) and st["Action"], f"{path.name}: Action must be a list"
                for a in st["Action"]:
                    assert a != "*" and re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9*]+", a), f"{path.name}: action {a!r}"
                assert isinstance(st[where], list) and st[where], f"{path.name}: {where} must be a list"
                assert all(isinstance(x, str) and x for x in st[where]), path.name
                rendered += 1
    assert rendered > 30


def test_every_template_variable_is_passed_by_the_terraform_that_renders_it():
    assert len(policy_renders()) >= 12
    for r in policy_renders():
        wanted = template_placeholders(r.text)
        given = dict(r.args)
        # templatefile() fails on a placeholder it is not given; an extra
        # argument is a typo or a leftover.
        assert set(wanted) <= set(given), f"{r.module.name}: {r.where}: {r.template} needs {sorted(set(wanted) - set(given))}"
        assert set(given) <= set(wanted), f"{r.module.name}: {r.where}: {r.template} has no {sorted(set(given) - set(wanted))}"
        for name, whole_value in wanted.items():
            # A placeholder standing for a JSON value gets JSON; one inside a
            # string gets an ARN or a name.
            assert whole_value == given[name].startswith("jsonencode("), f"{r.template}: ${{{name}}} = {given[name]}"


def test_alert_and_search_writer_statements_are_defined_once():
    shared = {"alerts-writer.json.tftpl": "var.alerts_enabled", "search-writer.json.tftpl": "var.search_enabled"}
    for template, switch in shared.items():
        sids = [st["Sid"] for st in render_policy((POLICIES / template).read_text(), {n: "x" for n in template_placeholders((POLICIES / template).read_text())})["Statement"]]
        # Their statements are written in that one template and nowhere else.
        for f in sorted(INFRA.rglob("*")):
            if f.suffix in (".tf", ".tftpl") and f.name != template:
                text = f.read_text()
                for sid in sids:
                    assert f'"{sid}"' not in text and f"sid = {sid}" not in text.replace('"', ""), f"{f}: {sid} is written again"
        # Rendered once, in modules/lambda, added to the function's own
        # policy when its settings group is on.
        renders = renders_of(template)
        assert [(r.module, r.where, r.condition) for r in renders] == [(LAMBDA_MODULE, "aws_iam_role_policy.function.policy", switch)]
    policy = expr(load(LAMBDA_MODULE).of_type("aws_iam_role_policy")["function"]["policy"])
    assert policy.startswith('jsonencode({Version = "2012-10-17", Statement = concat(jsondecode(var.policy_json).Statement, ')
    # fn-ingest and fn-stream both write alerts and index into search: the
    # same statements, switched and pointed at the same resources.
    for binary in ("fn-ingest", "fn-stream"):
        args = function_calls()[binary].args
        assert expr(args["alerts_enabled"]) == "var.alerts.enabled" and expr(args["alerts_arns"]) == "var.alerts", binary
        assert expr(args["search_enabled"]) == "var.search.enabled" and expr(args["search_domain_arn"]) == "var.search.domain_arn", binary
    assert "alerts_arns" not in function_calls()["fn-alerts"].args


def test_role_policies_come_from_the_templates():
    for m in all_modules():
        for name, rp in m.of_type("aws_iam_role_policy").items():
            policy = expr(rp["policy"])
            renders = [r for r in policy_renders() if r.module == m.path and r.where == f"aws_iam_role_policy.{name}.policy"]
            if local := re.fullmatch(r"local\.(\w+)", policy):
                renders = [r for r in policy_renders() if r.module == m.path and r.where == f"local.{local.group(1)}"]
            if "var.policy_json" in policy:
                # modules/lambda: the template its caller rendered, first.
                assert policy.startswith("jsonencode(") and "jsondecode(var.policy_json).Statement" in policy, name
            else:
                assert [r for r in renders if r.condition is None], f"{m.path.name}.{name}: render its policy from infra/policies"
            assert "aws_iam_policy_document" not in policy, f"{m.path.name}.{name}"
        # Role policies are inline (aws_iam_role_policy); the managed ones
        # are the permission boundary and the pipeline's plan-read (shared by
        # two roles, and too large to be inline in the deploy role's), from
        # their templates too.
        managed = {BOUNDARY: {"this": "boundary.json.tftpl"}, CICD: {"plan_read": "cicd-plan-read.json.tftpl"}}.get(m.path, {})
        assert set(m.of_type("aws_iam_policy")) == set(managed), f"{m.path}: role policies are inline (aws_iam_role_policy)"
        for name, template in managed.items():
            assert [r.template for r in policy_of(m.path, f"aws_iam_policy.{name}") if r.condition is None] == [template], name


def policy_statements():
    """Every IAM statement: the aws_iam_policy_document blocks left (trust and
    resource policies) and every rendered policy template."""
    for m in all_modules():
        for (dtype, name), doc in m.data.items():
            if dtype != "aws_iam_policy_document":
                continue
            statements = list(doc.get("statement", []))
            for d in doc.get("dynamic", []):
                if "statement" in d:
                    statements.extend(d["statement"].get("content", []))
            for st in statements:
                yield f"{m.path.relative_to(INFRA)}:{name}", st
    for r in policy_renders():
        for st in r.statements():
            yield f"{r.module.relative_to(INFRA)}:{r.where}:{r.template}", normalized(st)


# Statements that may name "*" as their resource: key policies ("*" is the
# key itself) and actions AWS grants on no narrower resource.
STAR_RESOURCE_SIDS = {
    "AccountAdministers",
    "CloudWatchLogsEncrypts",
    "AlarmsPublishToEncryptedTopic",
    "Tracing",
    "VpcNetworkInterfaces",
    "ReadUnscoped",
    "CreateUnscoped",
    "Unscoped",  # the boundary's: the same actions, as a ceiling
}


def test_no_iam_statement_allows_every_action():
    count = 0
    for where, st in policy_statements():
        count += 1
        assert "not_actions" not in st, f"{where}: NotAction grants almost everything"
        actions = st.get("actions", [])
        assert actions and isinstance(actions, list), f"{where}: actions must be a literal list"
        for a in actions:
            assert a != "*" and re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9*]+", a), f"{where}: action {a!r}"
    assert count > 20
    # Nor a hand-written JSON policy anywhere, templates included.
    for f in [*INFRA.rglob("*.tf"), *POLICIES.glob("*.tftpl")]:
        text = f.read_text()
        assert not re.search(r'"?Action"?\s*[:=]\s*\[?\s*"\*"', text), f"{f}: Action = \"*\""


def test_star_resources_only_where_no_arn_exists():
    for where, st in policy_statements():
        if st.get("effect", "Allow") == "Deny":
            continue
        resources = st.get("resources", [])
        assert isinstance(resources, list) or '"*"' not in resources, f"{where}: {resources}"
        if isinstance(resources, list) and "*" in resources:
            assert st.get("sid") in STAR_RESOURCE_SIDS, f"{where}: statement {st.get('sid')} grants on \"*\""


def test_one_role_per_function_with_its_own_resources():
    for binary, c in function_calls().items():
        policy = expr(c.args["policy_json"])
        # Its own template, alone or followed by its optional parts, each a
        # template named after the function, under its switch.
        own = rf'templatefile\("\$\{{path\.module\}}/\.\./\.\./policies/{binary}\.json\.tftpl", \{{.*?\}}\)'
        if not re.fullmatch(own, policy):
            assert re.match(r'jsonencode\(\{Version = "2012-10-17", Statement = concat\(jsondecode\(' + own + r"\)\.Statement", policy), binary
            renders = [r for r in policy_renders() if r.module == c.caller and r.where == f"module.{c.name}.policy_json"]
            for r in renders[1:]:
                assert r.template.startswith(f"{binary}-") and r.condition in OWN_PARTS, (binary, r.template, r.condition)
    lam = load(LAMBDA_MODULE)
    assert list(lam.of_type("aws_iam_role")) == ["this"]
    assert lam.of_type("aws_iam_role")["this"]["name"] == "${local.name}"
    assert set(lam.of_type("aws_iam_role_policy")) == {"base", "function"}
    for name, rp in lam.of_type("aws_iam_role_policy").items():
        assert expr(rp["role"]) == "aws_iam_role.this.id", name
    # The base policy: its own log group, and network interfaces only in a VPC.
    base = {r.template: r for r in policy_renders() if r.module == LAMBDA_MODULE and r.where == "aws_iam_role_policy.base.policy"}
    assert set(base) == {"fn-base.json.tftpl", "fn-vpc.json.tftpl"}
    assert base["fn-base.json.tftpl"].condition is None and base["fn-vpc.json.tftpl"].condition == "local.in_vpc"
    logs = [st for st in base["fn-base.json.tftpl"].statements() if st["Sid"] == "WriteOwnLogs"]
    assert logs and logs[0]["Resource"] == ["${aws_cloudwatch_log_group.this.arn}:*"]


def test_functions_may_sign_requests_to_their_search_domain_only():
    for binary in ("fn-ingest", "fn-stream"):
        assert not [st for st in function_policy(binary, search=False, alerts=True) if st["Sid"] == "IndexIntoSearch"], binary
        doc = function_policy(binary, search=True)
        search = [st for st in doc if st["Sid"] == "IndexIntoSearch"]
        assert len(search) == 1, binary
        assert sorted(search[0]["Action"]) == ["es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut"]
        assert search[0]["Resource"] == ["${var.search.domain_arn}/*"]
        writes = [s for s in doc if any(a == "s3:PutObject" for a in s["Action"])]
        assert any("${var.curated_bucket_arn}/search-dlq/*" in s["Resource"] for s in writes), binary
    # fn-stream keeps what Firehose did not take under its stream-dlq prefix.
    src = (CRATES / "handlers" / "src" / "stream" / "mod.rs").read_text()
    prefix = re.search(r'pub const STREAM_DLQ_PREFIX: &str = "([^"]+)";', src).group(1)
    writes = [s for s in function_policy("fn-stream", search=False) if "s3:PutObject" in s["Action"]]
    assert any(f"${{var.curated_bucket_arn}}/{prefix}/*" in s["Resource"] for s in writes)
    # A retry after a partial put reads the note its first attempt wrote.
    src = (CRATES / "handlers" / "src" / "stream" / "progress.rs").read_text()
    prefix = re.search(r'pub const STREAM_PROGRESS_PREFIX: &str = "([^"]+)";', src).group(1)
    notes = [s for s in function_policy("fn-stream", search=False) if f"${{var.curated_bucket_arn}}/{prefix}/*" in s["Resource"]]
    assert notes and sorted(notes[0]["Action"]) == ["s3:GetObject", "s3:PutObject"]
    # A paused object keeps, reads and removes its checkpoint, and continues
    # in a message to its own queue.
    src = (CRATES / "core" / "src" / "ingest" / "source.rs").read_text()
    prefix = re.search(r'pub const CHECKPOINT_PREFIX: &str = "([^"]+)";', src).group(1)
    ingest = function_policy("fn-ingest", search=False)
    cps = [s for s in ingest if f"${{var.curated_bucket_arn}}/{prefix}/*" in s["Resource"]]
    assert cps and sorted(cps[0]["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert any(s["Action"] == ["sqs:SendMessage"] for s in ingest)
    assert not [st for st in function_policy("fn-alerts", search=True, alerts=True) if st["Sid"] == "IndexIntoSearch"]


# --- alerts -------------------------------------------------------------------

ALERT_SETTINGS = {"ALERT_RULES_URI", "ALERT_WINDOWS_TABLE", "ALERT_STATE_TABLE", "ALERT_TOPIC_ARN", "ALERT_ATHENA_DATABASE"}


def alerts_module() -> Module:
    return load(INFRA / "modules" / "alerts")


def test_alert_tables_are_encrypted_recoverable_and_expire():
    tables = alerts_module().of_type("aws_dynamodb_table")
    assert set(tables) == {"windows", "state"}
    assert tables["windows"]["name"] == "${var.name_prefix}-alert-windows"
    assert tables["state"]["name"] == "${var.name_prefix}-alert-state"
    keys = {n: (t["hash_key"], t.get("range_key")) for n, t in tables.items()}
    assert keys == {"windows": ("pk", "sk"), "state": ("pk", None)}
    for name, t in tables.items():
        assert expr(t["count"]) == "var.enabled ? 1 : 0", name
        assert t["billing_mode"] == "PAY_PER_REQUEST", name
        # Only key attributes may be declared (DynamoDB refuses others).
        assert {a["name"]: a["type"] for a in t["attribute"]} == {k: "S" for k in keys[name] if k}, name
        ttl = single_block(t, "ttl")
        assert ttl["attribute_name"] == "expires" and ttl["enabled"] is True, name
        assert single_block(t, "point_in_time_recovery")["enabled"] is True, name
        sse = single_block(t, "server_side_encryption")
        assert sse["enabled"] is True and expr(sse["kms_key_arn"]) == "var.kms_key_arn", name
        assert expr(t["deletion_protection_enabled"]) == "var.deletion_protection", name
    assert alerts_module().variables["deletion_protection"]["default"] is True
    root = load(INFRA)
    assert root.variables["alert_tables_deletion_protection"]["default"] is True
    assert expr(root.modules["alerts"]["deletion_protection"]) == "var.alert_tables_deletion_protection"


def test_a_schedule_runs_fn_alerts_every_minute():
    m = alerts_module()
    fn = m.modules["function"]
    assert fn["binary"] == "fn-alerts" and expr(fn["count"]) == "var.enabled ? 1 : 0"
    assert int(resolve(m.path, fn["reserved_concurrency"])) == -1, "correctness comes from conditional writes"
    rules = m.of_type("aws_cloudwatch_event_rule")
    assert list(rules) == ["schedule"] and rules["schedule"]["schedule_expression"] == "rate(1 minute)"
    target = m.of_type("aws_cloudwatch_event_target")["schedule"]
    assert expr(target["rule"]) == "aws_cloudwatch_event_rule.schedule[0].name"
    # The live alias, which CodeDeploy shifts (tests/test_infra_deploy.py).
    assert expr(target["arn"]) == "module.function[0].alias_arn"
    assert single_block(target, "retry_policy")["maximum_retry_attempts"] == 0
    permission = m.of_type("aws_lambda_permission")["schedule"]
    assert permission["action"] == "lambda:InvokeFunction" and permission["principal"] == "events.amazonaws.com"
    assert expr(permission["function_name"]) == "module.function[0].function_name"
    assert expr(permission["qualifier"]) == "module.function[0].alias_name"
    assert expr(permission["source_arn"]) == "aws_cloudwatch_event_rule.schedule[0].arn"
    # No retries of the invocations the schedule makes: those of the alias.
    invoke = m.of_type("aws_lambda_function_event_invoke_config")["function"]
    assert invoke["maximum_retry_attempts"] == 0
    assert expr(invoke["qualifier"]) == "module.function[0].alias_name"


def test_fn_alerts_reads_windows_writes_state_and_the_summary_only():
    m = alerts_module()
    env = m.modules["function"]["environment"]
    assert set(env) == ALERT_SETTINGS | {"SUMMARY_BUCKET"}
    # The summary goes to the lake's bucket, where the Glue table reads it.
    assert expr(env["SUMMARY_BUCKET"]) == "var.curated_bucket"
    assert root_values(m.path, "var.curated_bucket") == {"module.storage.curated_bucket"}
    assert root_values(m.path, "var.curated_bucket_arn") == {"module.storage.curated_bucket_arn"}
    assert expr(env["ALERT_RULES_URI"]) == "s3://${var.curated_bucket}/${aws_s3_object.rules[0].key}"
    assert expr(env["ALERT_WINDOWS_TABLE"]) == "aws_dynamodb_table.windows[0].name"
    assert expr(env["ALERT_STATE_TABLE"]) == "aws_dynamodb_table.state[0].name"
    assert expr(env["ALERT_TOPIC_ARN"]) == "aws_sns_topic.alerts.arn"
    assert expr(env["ALERT_ATHENA_DATABASE"]) == "var.athena_database"
    root = load(INFRA)
    assert expr(root.modules["alerts"]["athena_database"]) == "local.glue_database"
    assert expr(root.locals["alerts_environment"]["ALERT_ATHENA_DATABASE"]) == "local.glue_database"
    grants = {(tuple(sorted(st["Action"])), tuple(st["Resource"])) for st in function_policy("fn-alerts", search=True, alerts=True)}
    assert grants == {
        # The rules object, that one object only.
        (("s3:GetObject",), ("${var.curated_bucket_arn}/${aws_s3_object.rules[0].key}",)),
        (("dynamodb:Query",), ("${aws_dynamodb_table.windows[0].arn}",)),
        # The summary's progress item and late-hour markers.
        (("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"), ("${aws_dynamodb_table.windows[0].arn}",)),
        (("s3:PutObject",), ("${var.curated_bucket_arn}/summary/*",)),
        (("dynamodb:Scan", "dynamodb:UpdateItem"), ("${aws_dynamodb_table.state[0].arn}",)),
        (("sns:Publish",), ("${aws_sns_topic.alerts.arn}",)),
        (("kms:Decrypt", "kms:GenerateDataKey"), ("${var.kms_key_arn}",)),
    }
    # The curated bucket's key is the one already granted (modules/storage
    # encrypts with the deployment's key, or SSE-S3).
    assert expr(load(INFRA).modules["storage"]["kms_key_arn"]) == expr(load(INFRA).modules["alerts"]["kms_key_arn"]) == "module.kms.key_arn"


def test_user_formats_travel_as_an_object_fn_ingest_alone_may_read():
    root = load(INFRA)
    assert root.variables["formats_path"]["default"] is None
    assert "fileexists(var.formats_path)" in expr(root.variables["formats_path"]["validation"][0]["condition"])
    assert expr(root.modules["ingest"]["formats_path"]) == "var.formats_path"
    m = load(INFRA / "modules" / "ingest")
    obj = m.of_type("aws_s3_object")["formats"]
    assert expr(obj["count"]) == "var.formats_path == null ? 0 : 1"
    assert (expr(obj["bucket"]), obj["key"]) == ("var.curated_bucket", "_config/formats.toml")
    assert expr(obj["source_hash"]) == "filemd5(var.formats_path)"
    assert expr(obj["kms_key_id"]) == "var.kms_key_arn"
    env = m.modules["function"]["environment"]
    assert expr(env["FORMATS_URI"]) == 'one([for o in aws_s3_object.formats : "s3://${o.bucket}/${o.key}"])'
    # The one object, in fn-ingest's policy only.
    for binary, c in function_calls().items():
        assert {"FORMATS", "FORMATS_FILE"}.isdisjoint(terraform_environment(c)), binary
    policy = json.loads((POLICIES / "fn-ingest.json.tftpl").read_text())
    (read,) = [st for st in policy["Statement"] if st["Sid"] == "ReadFormats"]
    assert (read["Action"], read["Resource"]) == (["s3:GetObject"], ["${curated_bucket_arn}/_config/formats.toml"])


def test_fn_alerts_may_put_objects_under_summary_only():
    s3 = [st for st in function_policy("fn-alerts", search=True, alerts=True) if any(a.startswith("s3:") for a in st["Action"])]
    assert len(s3) == 2, "two statements reach the bucket: the rules read, the summary written"
    puts = [st for st in s3 if st["Action"] == ["s3:PutObject"]]
    assert len(puts) == 1 and puts[0]["Resource"] == ["${var.curated_bucket_arn}/summary/*"]
    # Reading: the rules object, nothing else.
    gets = [st for st in s3 if st is not puts[0]]
    assert gets[0]["Action"] == ["s3:GetObject"]
    assert gets[0]["Resource"] == ["${var.curated_bucket_arn}/${aws_s3_object.rules[0].key}"]
    # Which is where the Glue table summary reads.
    assert catalog().locals["summary_location"] == "s3://${var.curated_bucket}/summary/"


def test_alert_rules_travel_as_a_kms_encrypted_object_in_the_curated_bucket():
    root = load(INFRA)
    assert root.variables["enable_alerts"]["default"] is True
    assert "alert_rules" not in root.locals, "the rules are no longer inlined"
    # The file, read only when alerts are on (it may be absent otherwise).
    call = root.modules["alerts"]
    assert "rules" not in call
    assert expr(call["rules_path"]) == 'var.enable_alerts ? coalesce(var.alert_rules_path, "${path.module}/../alerts.toml") : null'
    assert expr(call["enabled"]) == "var.enable_alerts"
    m = alerts_module()
    assert "rules" not in m.variables and m.variables["rules_path"]["default"] is None
    validation = m.variables["rules_path"]["validation"][0]
    assert "var.rules_path == null" in expr(validation["condition"]) and "fileexists(var.rules_path)" in expr(validation["condition"])
    # A collect region's alerts module (topic only) needs no file.
    region = load(INFRA / "modules" / "collect-region").modules["alerts"]
    assert "rules_path" not in region and region["enabled"] is False
    # Uploaded to the lake's bucket under _config/, encrypted with the data
    # key whatever the bucket's default, and uploaded again when edited.
    (name, obj), = m.of_type("aws_s3_object").items()
    assert name == "rules" and expr(obj["count"]) == "var.enabled ? 1 : 0"
    assert expr(obj["bucket"]) == "var.curated_bucket"
    assert obj["key"] == "_config/alerts.toml"
    assert expr(obj["source"]) == "var.rules_path"
    assert expr(obj["source_hash"]) == "filemd5(var.rules_path)", "SSE-KMS: the etag is not the MD5"
    assert obj["content_type"] == "application/toml"
    assert expr(obj["kms_key_id"]) == "var.kms_key_arn"
    assert root_values(m.path, "var.curated_bucket") == {"module.storage.curated_bucket"}
    assert root_values(m.path, "var.kms_key_arn") == {"module.kms.key_arn"}
    # No lifecycle rule of the curated bucket expires it.
    storage = load(INFRA / "modules" / "storage")
    for rule in storage.of_type("aws_s3_bucket_lifecycle_configuration")["curated"]["rule"]:
        if "expiration" in rule:
            prefix = single_block(rule, "filter").get("prefix", "")
            assert not "_config/alerts.toml".startswith(prefix), rule["id"]
    # Where the functions read it, and the one object they may read.
    outputs = m.outputs
    assert expr(outputs["rules_uri"]["value"]) == 'var.enabled ? "s3://${var.curated_bucket}/${aws_s3_object.rules[0].key}" : null'
    assert expr(outputs["rules_object_arn"]["value"]) == 'var.enabled ? "${var.curated_bucket_arn}/${aws_s3_object.rules[0].key}" : null'
    assert expr(root.locals["alerts_environment"]["ALERT_RULES_URI"]) == "module.alerts.rules_uri"
    assert expr(root.locals["alerts_access"]["rules_object_arn"]) == "module.alerts.rules_object_arn"
    # No function gets the rules inline, nor a file path, from Terraform.
    for binary, c in function_calls().items():
        assert not {"ALERT_RULES", "ALERT_RULES_FILE"} & terraform_environment(c), binary
    uri = {b for b, c in function_calls().items() if "ALERT_RULES_URI" in terraform_environment(c)}
    assert uri == {"fn-ingest", "fn-stream", "fn-alerts"}
    # Every function's whole environment still fits Lambda's 4 KB, as
    # Lambda measures it (JSON).
    lam = load(LAMBDA_MODULE)
    assert "jsonencode(local.environment)" in expr(lam.locals["environment_size"])
    lifecycle = single_block(lam.of_type("aws_lambda_function")["this"], "lifecycle")
    assert expr(lifecycle["precondition"][0]["condition"]) == "local.environment_size <= 4096"
    assert "ALERT_RULES is" not in lifecycle["precondition"][0]["error_message"]
    toml = ROOT / "alerts.toml"
    if toml.exists():
        # The functions refuse a rules object over 1 MiB.
        assert 0 < toml.stat().st_size < 1 << 20
        binary = os.environ.get("LOGLAKE_BIN")
        if binary:
            checked = subprocess.run([binary, "alerts", "check", "--rules", str(toml)], capture_output=True, text=True)
            assert checked.returncode == 0, checked.stderr


def test_ingest_and_stream_get_the_alert_settings_and_exactly_their_permissions():
    root = load(INFRA)
    assert set(root.locals["alerts_environment"]) == ALERT_SETTINGS
    assert expr(root.locals["alerts_access"]["enabled"]) == "var.enable_alerts"
    for module in ("ingest", "stream"):
        call = function_calls()[f"fn-{module}"]
        # Both write window contributions (fn-stream for the records it
        # forwards, fn-ingest for everything else) and send instant alerts.
        assert expr(call.args["alerts_enabled"]) == "var.alerts.enabled", module
        assert set(call.args["alerts_environment"]) == ALERT_SETTINGS, module
        assert not ALERT_SETTINGS & set(call.args["environment"]), f"{module}: ALERT_* must be switched by enable_alerts"
        assert expr(call.args["alerts_environment"]["ALERT_RULES_URI"]) == 'var.alerts_environment["ALERT_RULES_URI"]', module
        assert expr(root.modules[module]["alerts"]) == "local.alerts_access"
        assert expr(root.modules[module]["alerts_environment"]) == "local.alerts_environment"
        # What enable_alerts adds to the function's policy (and only then).
        without = function_policy(f"fn-{module}", search=True, alerts=False)
        gated = {}
        for st in function_policy(f"fn-{module}", search=True, alerts=True):
            if st not in without:
                gated[tuple(st["Resource"])] = sorted(st["Action"])
        expected = {
            ("${var.alerts.rules_object_arn}",): ["s3:GetObject"],
            ("${var.alerts.state_table_arn}",): ["dynamodb:DeleteItem", "dynamodb:PutItem"],
            ("${var.alerts.topic_arn}",): ["sns:Publish"],
            ("${var.alerts.windows_table_arn}",): ["dynamodb:BatchWriteItem"],
        }
        assert gated == expected, module
        # Nothing else in the policy names the alert resources.
        for st in without:
            assert not any("alerts" in r for r in st["Resource"]), module


def test_fn_alerts_is_watched():
    obs_call = load(INFRA).modules["observability"]
    assert "alerts = module.alerts.function_name" in expr(load(INFRA).locals["function_names"])
    assert expr(obs_call["functions"]) == "local.function_names"
    assert "alerts = module.alerts.function_name" in expr(obs_call["scheduled_functions"])
    alarm = alarm_kinds()["not_running"]
    assert expr(alarm["targets"]) == "var.scheduled_functions"
    assert alarm["metric_name"] == "Invocations" and alarm["statistic"] == "Sum" and alarm["period"] == 300
    assert alarm["comparison_operator"] == "LessThanThreshold" and alarm["threshold"] == 1
    assert alarm["treat_missing_data"] == "breaching"
    outputs = {}
    for f in sorted(INFRA.glob("*.tf")):
        for block in unquote(hcl2.loads(f.read_text())).get("output", []):
            outputs.update(block)
    assert expr(outputs["alert_windows_table"]["value"]) == "module.alerts.windows_table_name"
    assert expr(outputs["alert_state_table"]["value"]) == "module.alerts.state_table_name"
    assert expr(outputs["alerts_function_name"]["value"]) == "module.alerts.function_name"


# --- alarms -------------------------------------------------------------------

OBSERVABILITY = INFRA / "modules" / "observability"


def alarm_kinds() -> dict[str, dict]:
    """modules/observability's alarm kinds, each as the arguments its alarms
    get: alarm_defaults, then the kind's entry, then what local.alarms derives
    for each target ("${target}"), read through the one alarm resource
    (metric_name = each.value.metric, ...). "targets" is what it watches."""
    obs = load(OBSERVABILITY)
    resources = obs.of_type("aws_cloudwatch_metric_alarm")
    # Every single-metric alarm is an entry of local.alarm_kinds; the metric
    # math ones (fn-ingest's output) of local.output_alarm_kinds.
    assert sorted(resources) == ["output", "this"], "every alarm is an entry of local.alarm_kinds or local.output_alarm_kinds"
    alarm = resources["this"]
    assert expr(alarm["for_each"]) == "local.alarms"
    derive = expr(obs.locals["alarms"])
    for piece in (
        "for kind, a in local.alarm_kinds",
        'for key, target in a.targets : "${kind}/${key}" => merge(local.alarm_defaults, a, {',
        'name = "${target}-${a.suffix}"',
        'description = "${target} ${a.description}"',
        'dimensions = merge({(a.dimension) = target}, lookup(a, "on_alias", false) ? {Resource = "${target}:${var.function_alias}"} : {})',
    ):
        assert piece in derive, f"local.alarms: {piece}"
    out = {}
    for kind, entry in obs.locals["alarm_kinds"].items():
        value = {
            **obs.locals["alarm_defaults"],
            **entry,
            "name": "${target}-" + entry["suffix"],
            "description": "${target} " + entry["description"],
            "dimensions": {entry["dimension"]: "${target}", **({"Resource": "${target}:${var.function_alias}"} if entry.get("on_alias") else {})},
        }
        args = {"targets": entry["targets"]}
        for arg, v in alarm.items():
            if arg == "for_each":
                continue
            field_ = re.fullmatch(r"each\.value\.(\w+)", expr(v)) if isinstance(v, str) else None
            if field_:
                assert field_.group(1) in value, f"{kind}: no {field_.group(1)} (nor a default) for {arg}"
                args[arg] = value[field_.group(1)]
            else:
                args[arg] = v
        out[kind] = args
    return out


# Every alarm the observability module made before its alarms became one map:
# what it watches, its name, its metric, and when it fires.
EXPECTED_ALARMS = {
    "errors": {
        "targets": "${var.functions}",
        "alarm_name": "${target}-errors",
        "alarm_description": "${target} returned errors (a failed object or batch; see its log group)",
        # On the live alias every trigger invokes (the deployments' rollback alarm).
        "namespace": "AWS/Lambda", "metric_name": "Errors", "dimensions": {"FunctionName": "${target}", "Resource": "${target}:${var.function_alias}"},
        "statistic": "Sum", "period": 300, "evaluation_periods": 1, "threshold": 0,
        "comparison_operator": "GreaterThanThreshold", "treat_missing_data": "notBreaching",
    },
    "throttles": {
        "targets": "${var.functions}",
        "alarm_name": "${target}-throttles",
        "alarm_description": "${target} was throttled (account or reserved concurrency exhausted)",
        "namespace": "AWS/Lambda", "metric_name": "Throttles", "dimensions": {"FunctionName": "${target}", "Resource": "${target}:${var.function_alias}"},
        "statistic": "Sum", "period": 300, "evaluation_periods": 1, "threshold": 0,
        "comparison_operator": "GreaterThanThreshold", "treat_missing_data": "notBreaching",
    },
    "not_running": {
        "targets": "${var.scheduled_functions}",
        "alarm_name": "${target}-not-running",
        "alarm_description": "${target} has not been invoked for 5 minutes (it runs every minute): check its schedule",
        "namespace": "AWS/Lambda", "metric_name": "Invocations", "dimensions": {"FunctionName": "${target}"},
        "statistic": "Sum", "period": 300, "evaluation_periods": 1, "threshold": 1,
        "comparison_operator": "LessThanThreshold", "treat_missing_data": "breaching",
    },
    "corrupt_input": {
        # fn-ingest alone (a collect region has none), as a filter of var.functions.
        "targets": '${{for k, f in var.functions : k => f if k == "ingest"}}',

        "alarm_name": "${target}-corrupt-input",
        "alarm_description": "${target} skipped damaged gzip members (manifests with outcome corrupt; the lines after them were read)",
        "namespace": "loglake", "metric_name": "CorruptMembers", "dimensions": {"function": "${target}"},
        "statistic": "Sum", "period": 300, "evaluation_periods": 1, "threshold": 0,
        "comparison_operator": "GreaterThanThreshold", "treat_missing_data": "notBreaching",
    },
    "stream_dead_letters": {
        "targets": {"stream": "${var.stream_function_name}"},
        "alarm_name": "${target}-stream-dead-letters",
        "alarm_description": "${target} kept records it could not forward under stream-dlq/ in the curated bucket: replay them with loglake replay FILE --firehose NAME",
        "namespace": "loglake", "metric_name": "StreamDeadLetterRecords", "dimensions": {"function": "${target}"},
        "statistic": "Sum", "period": 300, "evaluation_periods": 1, "threshold": 0,
        "comparison_operator": "GreaterThanThreshold", "treat_missing_data": "notBreaching",
    },
    "dead_letters": {
        "targets": "${var.dead_letter_queues}",
        "alarm_name": "${target}-not-empty",
        "alarm_description": "${target} holds messages that could not be processed: inspect them, fix, then redrive",
        "namespace": "AWS/SQS", "metric_name": "ApproximateNumberOfMessagesVisible", "dimensions": {"QueueName": "${target}"},
        "statistic": "Maximum", "period": 60, "evaluation_periods": 1, "threshold": 0,
        "comparison_operator": "GreaterThanThreshold", "treat_missing_data": "notBreaching",
    },
    "iterator_age": {
        "targets": {"stream": "${var.stream_function_name}"},
        "alarm_name": "${target}-iterator-age",
        "alarm_description": "${target} is falling behind ${var.kinesis_stream_name}: records wait longer than the threshold",
        "namespace": "AWS/Lambda", "metric_name": "IteratorAge", "dimensions": {"FunctionName": "${target}"},
        "statistic": "Maximum", "period": 60, "evaluation_periods": 5, "threshold": "${var.iterator_age_threshold_ms}",
        "comparison_operator": "GreaterThanThreshold", "treat_missing_data": "notBreaching",
    },
    "freshness_stream": {
        "targets": {"stream": "${var.stream_function_name}"},
        "alarm_name": "${target}-freshness",
        "alarm_description": "${target} forwards rows later than the threshold after their event time (FreshnessP95Ms of its batches, 15 minutes running)",
        "namespace": "loglake", "metric_name": "FreshnessP95Ms", "dimensions": {"function": "${target}"},
        "statistic": "Maximum", "period": 300, "evaluation_periods": 3, "threshold": "${var.freshness_stream_threshold_ms}",
        "comparison_operator": "GreaterThanThreshold", "treat_missing_data": "notBreaching",
    },
    "freshness_ingest": {
        "targets": '${{for k, f in var.functions : k => f if k == "ingest"}}',
        "alarm_name": "${target}-freshness",
        "alarm_description": "${target} writes rows to the lake later than the threshold after their event time (FreshnessP95Ms of its batches, 15 minutes running; Firehose buffering included)",
        "namespace": "loglake", "metric_name": "FreshnessP95Ms", "dimensions": {"function": "${target}"},
        "statistic": "Maximum", "period": 300, "evaluation_periods": 3, "threshold": "${var.freshness_ingest_threshold_ms}",
        "comparison_operator": "GreaterThanThreshold", "treat_missing_data": "notBreaching",
    },
    "firehose_delivery": {
        "targets": {"firehose": "${var.firehose_name}"},
        "alarm_name": "${target}-delivery-failures",
        "alarm_description": "${target} failed to deliver to the raw bucket (DeliveryToS3.Success below 1)",
        "namespace": "AWS/Firehose", "metric_name": "DeliveryToS3.Success", "dimensions": {"DeliveryStreamName": "${target}"},
        "statistic": "Minimum", "period": 300, "evaluation_periods": 1, "threshold": 1,
        "comparison_operator": "LessThanThreshold", "treat_missing_data": "notBreaching",
    },
}

# The resources they were, and the kind each is now.
FORMER_ALARMS = {
    "function_errors": "errors",
    "function_throttles": "throttles",
    "schedule_stopped": "not_running",
    "dead_letters": "dead_letters",
    "iterator_age": "iterator_age",
    "firehose_delivery": "firehose_delivery",
}


def test_every_alarm_keeps_its_name_metric_threshold_and_actions():
    kinds = alarm_kinds()
    assert set(kinds) == set(EXPECTED_ALARMS)
    for kind, expected in EXPECTED_ALARMS.items():
        got = kinds[kind]
        assert {k: got.get(k) for k in expected} == expected, kind
        assert got["alarm_actions"] == got["ok_actions"] == "${local.actions}", kind
    assert load(OBSERVABILITY).locals["actions"] == ["${var.topic_arn}"]
    # The targets are static keys (known at plan) for what the root passes.
    root = load(INFRA).modules["observability"]
    assert expr(root["functions"]) == "local.function_names"
    assert set(root["dead_letter_queues"]) == {"ingest", "stream"}


def test_alarms_moved_from_their_former_addresses():
    moved = []
    for f in sorted(OBSERVABILITY.glob("*.tf")):
        moved += unquote(hcl2.loads(f.read_text())).get("moved", [])
    kinds = alarm_kinds()
    static_keys = {"ingest", "stream", "alerts"}  # the root's keys for functions and queues
    seen = set()
    for block in moved:
        old = re.fullmatch(r'aws_cloudwatch_metric_alarm\.(\w+)(?:\["(\w+)"\])?', expr(block["from"]))
        new = re.fullmatch(r'aws_cloudwatch_metric_alarm\.this\["(\w+)/(\w+)"\]', expr(block["to"]))
        assert old and new, block
        assert FORMER_ALARMS[old.group(1)] == new.group(1), block
        targets = kinds[new.group(1)]["targets"]
        keys = set(targets) if isinstance(targets, dict) else static_keys
        assert new.group(2) in keys and old.group(2) in (None, new.group(2)), block
        assert old.group(0) not in seen, f"{old.group(0)} moved twice"
        seen.add(old.group(0))
    assert {re.sub(r"\[.*", "", a).split(".")[1] for a in seen} == set(FORMER_ALARMS)
    assert len(seen) == 11, "errors and throttles of 3 functions, 1 schedule, 2 queues, iterator age, Firehose"


# --- storage, search, observability, checks -------------------------------------


def test_storage_lifecycle_and_notifications():
    storage = load(INFRA / "modules" / "storage")
    lc = storage.of_type("aws_s3_bucket_lifecycle_configuration")
    raw = lc["raw"]["rule"]
    assert any(expr(r.get("expiration", [{}])[0].get("days")) == "var.raw_retention_days" for r in raw)
    for name, conf in lc.items():
        assert any(
            r.get("abort_incomplete_multipart_upload", [{}])[0].get("days_after_initiation") == 1 for r in conf["rule"]
        ), f"{name}: incomplete multipart uploads must be aborted after 1 day"
    curated = {r["id"]: r for r in lc["curated"]["rule"]}
    assert curated["lake-intelligent-tiering"]["transition"][0]["storage_class"] == "INTELLIGENT_TIERING"
    assert expr(curated["quarantine-kept-longer"]["expiration"][0]["days"]) == "var.quarantine_retention_days"
    assert storage.modules["curated"]["versioning"] is True
    # Raw uploads are versioned (an overwrite before ingest loses nothing;
    # suspended versioning reports version "null" for every upload), and
    # overwritten versions expire like the rest.
    assert storage.modules["raw"]["versioning"] is True
    raw = {r["id"]: r for r in lc["raw"]["rule"]}
    assert expr(raw["expire-raw"]["noncurrent_version_expiration"][0]["noncurrent_days"]) == "var.raw_retention_days"
    assert raw["expire-raw-delete-markers"]["expiration"][0]["expired_object_delete_marker"] is True
    bucket = load(INFRA / "modules" / "storage" / "bucket")
    assert set(bucket.of_type("aws_s3_bucket_public_access_block")) == {"this"}
    pab = bucket.of_type("aws_s3_bucket_public_access_block")["this"]
    assert all(pab[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    policy = bucket.data[("aws_iam_policy_document", "this")]
    assert any(
        st["effect"] == "Deny" and st["condition"][0]["variable"] == "aws:SecureTransport" for st in policy["statement"]
    )
    notification = load(INFRA / "modules" / "ingest").of_type("aws_s3_bucket_notification")["raw"]
    assert expr(single_block(notification, "queue")["queue_arn"]) == "aws_sqs_queue.ingest.arn"


def test_search_setup_applies_the_repository_files():
    root = load(INFRA)
    setup = root.modules["search_setup"]
    assert setup["index_template_path"] == "${path.module}/../search/index-template.json"
    assert setup["ism_policy_path"] == "${path.module}/../search/ism-policy.json.tpl"
    m = load(INFRA / "modules" / "search-setup")
    assert "file(var.index_template_path)" in expr(m.of_type("opensearch_index_template")["logs"]["body"])
    ism = expr(m.of_type("opensearch_ism_policy")["logs"]["body"])
    assert ism.startswith("templatefile(var.ism_policy_path,")
    given = set(re.findall(r"\b(\w+)\s*=", ism))
    tpl = ROOT / "search" / "ism-policy.json.tpl"
    if not tpl.exists():
        pytest.skip("search/ism-policy.json.tpl is not in the repository yet")
    # templatefile fails on a placeholder it is not given; an extra one is a typo.
    wanted = set(re.findall(r"(?<!\$)\$\{(\w+)\}", tpl.read_text()))
    assert given == wanted, f"{tpl} has {sorted(wanted)}, Terraform gives {sorted(given)}"
    assert "delete_after_days" in wanted
    template = json.loads((ROOT / "search" / "index-template.json").read_text())
    assert "index_patterns" in template


def test_search_domain_is_locked_down():
    domain = load(INFRA / "modules" / "search").of_type("aws_opensearch_domain")["this"]
    assert single_block(domain, "advanced_security_options")["enabled"] is True
    assert single_block(domain, "encrypt_at_rest")["enabled"] is True
    assert single_block(domain, "node_to_node_encryption")["enabled"] is True
    endpoint = single_block(domain, "domain_endpoint_options")
    assert endpoint["enforce_https"] is True and "TLS-1-2" in endpoint["tls_security_policy"]


def test_dashboard_uses_the_emf_metrics_the_functions_emit():
    src = (CRATES / "core" / "src" / "metrics.rs").read_text()
    namespace = re.search(r'"Namespace":\s*"(\w+)"', src).group(1)
    # The first dimension set is the dashboard's (function, format); a
    # later one, (function), is what the loglake alarms select on.
    sets = re.search(r'"Dimensions":\s*\[(\[[^\]]+\](?:,\s*\[[^\]]+\])*)\]', src).group(1)
    sets = [re.findall(r'"(\w+)"', d) for d in re.findall(r"\[([^\]]+)\]", sets)]
    dimensions = sets[0]
    for a in alarm_kinds().values():
        if a["namespace"] == namespace:
            assert list(a["dimensions"]) in sets, a
    # The per-source metrics of `emf` (not the per-service ones below).
    emf_fn = src.split("pub fn emf(", 1)[1].split("\n}\n", 1)[0]
    metrics = re.findall(r'\("(\w+)",\s*"(?:Count|Bytes|Milliseconds|Seconds|None)"\)', emf_fn)
    assert namespace and dimensions and metrics
    obs = load(INFRA / "modules" / "observability")
    emf = obs.locals["emf"]
    assert emf["namespace"] == namespace
    assert emf["metrics"] == metrics
    search = obs.locals["search"]
    assert "{${local.emf.namespace}," + ",".join(dimensions) + "}" in search
    metric_names = {a["metric_name"] for a in alarm_kinds().values()}
    assert {"Errors", "Throttles", "ApproximateNumberOfMessagesVisible", "IteratorAge", "DeliveryToS3.Success"} <= metric_names
    for name, a in obs.of_type("aws_cloudwatch_metric_alarm").items():
        assert a["alarm_actions"] == a["ok_actions"] == "${local.actions}", name


# The business dashboard's metrics, as fn-ingest and fn-stream emit them in
# EMF: the one place both sides are held to. A metric renamed in the
# functions or in the dashboard fails here.
BUSINESS_EMF = {
    "namespace": "loglake",
    "dimensions": [["service"]],
    "metrics": {"ServiceRecords": "Count", "ServiceErrors": "Count", "ServiceLatency": "Milliseconds"},
}


def business_widgets() -> list[dict]:
    return load(OBSERVABILITY).locals["business_widgets"]


def widget_expressions(w: dict) -> list[str]:
    return [m["expression"] for row in w["properties"].get("metrics", []) for m in row if isinstance(m, dict) and "expression" in m]


def test_business_dashboard_uses_the_per_service_emf_metrics():
    obs = load(OBSERVABILITY)
    business = obs.locals["business"]
    assert business["namespace"] == BUSINESS_EMF["namespace"]
    assert business["dimensions"] == BUSINESS_EMF["dimensions"]
    assert {m["name"]: m["unit"] for m in business["metrics"].values()} == BUSINESS_EMF["metrics"]
    names = {k: m["name"] for k, m in business["metrics"].items()}
    query = obs.locals["business_query"]
    # One series per service: {namespace,service} MetricName="...".
    assert expr(query) == "{" + 'for k, m in local.business.metrics : k => "{${local.business.namespace},${join(",", local.business.dimensions[0])}} MetricName=\\"${m.name}\\""' + "}"
    dash = obs.of_type("aws_cloudwatch_dashboard")["business"]
    assert dash["dashboard_name"] == "${var.name_prefix}-business"
    assert expr(dash["dashboard_body"]) == "jsonencode({widgets = local.business_widgets})"
    widgets = business_widgets()
    searches = {e for w in widgets for e in widget_expressions(w) if e.startswith("SEARCH(")}
    # Records and errors per minute (Sum over 60 s), p95 latency per service.
    assert "SEARCH('${local.business_query.records}', 'Sum', 60)" in searches
    assert "SEARCH('${local.business_query.errors}', 'Sum', 60)" in searches
    assert "SEARCH('${local.business_query.latency}', 'p95', 60)" in searches
    assert all(re.fullmatch(r"SEARCH\('\$\{local\.business_query\.(records|errors|latency)\}', '(Sum|p\d+)', 60\)", e) for e in searches), searches
    # The error rate per service: a Logs Insights query over the EMF lines,
    # errors over records of the same line's service, per minute.
    (rate,) = [w for w in widgets if w["type"] == "log"]
    q = rate["properties"]["query"]
    records, errors = "${local.business.metrics.records.name}", "${local.business.metrics.errors.name}"
    assert f"stats sum({errors}) * 100 / sum({records}) as error_pct by bin(1m), service" in q
    assert q.startswith('${join(" | ", [for g in var.business_log_groups : "SOURCE \'${g}\'"])} | ')
    assert rate["properties"]["view"] == "timeSeries"
    # All services together: metric math over two single (summed) series.
    (total,) = [w for w in widgets if "100 * SUM(errors_all) / SUM(records_all)" in widget_expressions(w)]
    ids = {m["id"]: m["expression"] for row in total["properties"]["metrics"] for m in row}
    assert ids["errors_all"].startswith("SEARCH('${local.business_query.errors}', 'Sum'")
    assert ids["records_all"].startswith("SEARCH('${local.business_query.records}', 'Sum'")
    # The log groups are those of the two functions that emit the lines.
    root = load(INFRA)
    assert root.modules["observability"]["business_log_groups"] == ["${module.ingest.log_group_name}", "${module.stream.log_group_name}"]
    for module in ("ingest", "stream"):
        assert expr(load(INFRA / "modules" / module).outputs["log_group_name"]["value"]) == "module.function.log_group_name"
    assert expr(load(LAMBDA_MODULE).outputs["log_group_name"]["value"]) == "aws_cloudwatch_log_group.this.name"
    outputs = {}
    for f in sorted(INFRA.glob("*.tf")):
        for block in unquote(hcl2.loads(f.read_text())).get("output", []):
            outputs.update(block)
    assert "module.observability.business_dashboard_name" in outputs["business_dashboard_url"]["value"]
    assert expr(obs.outputs["business_dashboard_name"]["value"]) == "aws_cloudwatch_dashboard.business.dashboard_name"
    # The functions emit these names, with these units, and only this
    # dimension set (checked once the Rust side writes them).
    emitted = {}
    for path, text in workspace_sources().items():
        emitted.update(dict(re.findall(r'\("(Service[A-Z]\w*)",\s*"(Count|Milliseconds|Bytes|Seconds|None)"\)', text)))
    if emitted:
        assert emitted == BUSINESS_EMF["metrics"], f"the functions emit {emitted}, the dashboard reads {BUSINESS_EMF['metrics']}"


def test_every_checkov_skip_is_justified():
    skips = 0
    for f in INFRA.rglob("*.tf"):
        for line in f.read_text().splitlines():
            if "checkov:skip" in line:
                skips += 1
                assert re.search(r"#checkov:skip=CKV2?_[A-Z0-9]+_\d+:\S.{15,}", line), f"{f}: {line.strip()}"
    assert skips > 0


def test_buildspec_tests_packages_and_plans():
    # The build tests and packages; the plan stage plans (CI/CD below).
    spec = (ROOT / "buildspec.yml").read_text()
    for needle in ("cargo-lambda", "ziglang", "rustup", "make test", "make package"):
        assert needle in spec, needle
    plan = (CICD / "plan-buildspec.yml").read_text()
    for needle in ("plan -input=false", "-out=tfplan", "show -no-color tfplan"):
        assert needle in plan, needle


# --- CI/CD and the permission boundary ------------------------------------------
#
# The build stage runs third-party code (crates, PyPI packages): its role
# reaches its logs, the pipeline's artifacts and the pipeline's own key, and
# nothing of the data. Terraform runs in the plan and deploy stages only.
# Every role carries the deployment's permission boundary, and the deploy
# role, which creates roles, can create them and change their policies only
# with it, and pass only the roles it must, each to its service.


def pipeline() -> dict:
    return load(CICD).of_type("aws_codepipeline")["this"]


def stage_actions(stage: str) -> list[dict]:
    stages = {s["name"]: s for s in pipeline()["stage"]}
    assert stage in stages, f"the pipeline has no {stage} stage"
    return stages[stage]["action"]


def stage_action(stage: str, action: str | None = None) -> dict:
    """A stage's one action, or the one named so (the Deploy stage's Apply
    and Release)."""
    if action is None:
        return single_block(pipeline_stage(stage), "action")
    (found,) = [a for a in stage_actions(stage) if a["name"] == action]
    return found


def pipeline_stage(stage: str) -> dict:
    stages = {s["name"]: s for s in pipeline()["stage"]}
    assert stage in stages, f"the pipeline has no {stage} stage"
    return stages[stage]


def stage_project(stage: str, action: str | None = None) -> tuple[str, dict]:
    """The CodeBuild project a stage (or one action of it) runs: (resource name, body)."""
    project = re.fullmatch(r"aws_codebuild_project\.(\w+)\.name", expr(stage_action(stage, action)["configuration"]["ProjectName"]))
    assert project, f"{stage}: ProjectName must name a project of the module"
    return project.group(1), load(CICD).of_type("aws_codebuild_project")[project.group(1)]


def project_role(project: dict) -> str:
    role = re.fullmatch(r"aws_iam_role\.(\w+)\.arn", expr(project["service_role"]))
    assert role, project["service_role"]
    return role.group(1)


def stage_role_statements(stage: str, action: str | None = None) -> tuple[dict[str, list[PolicyRender]], list[dict]]:
    _, project = stage_project(stage, action)
    policies = role_renders(CICD, project_role(project))
    assert policies, f"{stage}: its role has no policy"
    return policies, [st for renders in policies.values() for r in renders for st in r.statements()]


def boundary_render() -> PolicyRender:
    renders = [r for r in renders_of("boundary.json.tftpl") if r.module == BOUNDARY]
    assert len(renders) == 1 and renders[0].condition is None, "modules/boundary renders boundary.json.tftpl once"
    return renders[0]


def test_the_pipeline_builds_then_plans_then_deploys_what_was_approved():
    assert [s["name"] for s in pipeline()["stage"]] == ["Source", "Build", "Plan", "Approve", "Deploy"]
    source = single_block(next(s for s in pipeline()["stage"] if s["name"] == "Source"), "action")["output_artifacts"]
    build, plan, deploy = stage_action("Build"), stage_action("Plan"), stage_action("Deploy", "Apply")
    assert build["input_artifacts"] == source
    # The plan takes the Terraform from the source (its primary source) and
    # only the zips from the build: what the build's third-party code writes
    # is never run with the plan role.
    assert set(plan["input_artifacts"]) == set(source) | set(build["output_artifacts"])
    assert [plan["configuration"]["PrimarySource"]] == source
    assert deploy["input_artifacts"] == plan["output_artifacts"]
    assert stage_action("Approve")["provider"] == "Manual"

    def commands(spec: dict) -> list[str]:
        return [c for phase in spec["phases"].values() for c in phase.get("commands", [])]

    import yaml

    # Build: make test and make package, and no Terraform.
    name, project = stage_project("Build")
    assert single_block(project, "source")["buildspec"] == "buildspec.yml"
    spec = yaml.safe_load((ROOT / "buildspec.yml").read_text())
    run = commands(spec)
    assert "make test" in run and "make package" in run
    assert not [c for c in run if "terraform" in c.lower()], "the build stage runs no Terraform"
    assert spec["artifacts"]["files"] == ["target/lambda/*/bootstrap.zip"]
    # Plan: terraform plan -out=tfplan, shown for the approval.
    name, project = stage_project("Plan")
    assert expr(single_block(project, "source")["buildspec"]) == 'file("${path.module}/plan-buildspec.yml")'
    spec = yaml.safe_load((CICD / "plan-buildspec.yml").read_text())
    run = commands(spec)
    plans = [c for c in run if c.startswith("terraform -chdir=infra plan ")]
    assert len(plans) == 1 and "-out=tfplan" in plans[0].split() and "-input=false" in plans[0].split()
    assert "terraform -chdir=infra show -no-color tfplan" in run
    # Its output is what the deploy stage applies: the Terraform with the
    # plan, the zips, and every file the root module reads from the repository.
    files = spec["artifacts"]["files"]
    assert {"infra/**/*", "target/lambda/*/bootstrap.zip", "search/**/*", "alerts.toml"} <= set(files)
    for f in sorted(INFRA.glob("*.tf")):
        for read in re.findall(r'\$\{path\.root\}/\.\./([\w.-]+)', f.read_text()):
            assert read in ("target", "search", "alerts.toml"), f"{f.name} reads ../{read}: add it to the plan artifact"
    # Deploy: applies exactly that plan, then (run_order 2) releases what
    # it published through CodeDeploy (tests/test_infra_deploy.py).
    assert [(a["name"], a["run_order"]) for a in stage_actions("Deploy")] == [("Apply", 1), ("Release", 2)]
    name, project = stage_project("Deploy", "Apply")
    assert expr(single_block(project, "source")["buildspec"]) == 'file("${path.module}/deploy-buildspec.yml")'
    spec = yaml.safe_load((CICD / "deploy-buildspec.yml").read_text())
    assert "terraform -chdir=infra apply -input=false tfplan" in commands(spec)
    # Each CodeBuild stage logs to its own group.
    groups = load(CICD).of_type("aws_cloudwatch_log_group")["build"]
    assert expr(groups["for_each"]) == 'toset(["build", "plan", "deploy", "release"])'
    for stage, action, key in (("Build", None, "build"), ("Plan", None, "plan"), ("Deploy", "Apply", "deploy"), ("Deploy", "Release", "release")):
        _, project = stage_project(stage, action)
        logs = single_block(single_block(project, "logs_config"), "cloudwatch_logs")
        assert expr(logs["group_name"]) == f'aws_cloudwatch_log_group.build["{key}"].name', stage


def test_the_build_stage_reaches_only_its_logs_the_artifacts_and_the_pipeline_key():
    cicd = load(CICD)
    _, project = stage_project("Build")
    policies, statements = stage_role_statements("Build")
    templates = {r.template for renders in policies.values() for r in renders}
    assert templates == {"cicd-build-common.json.tftpl"}, f"the build role holds {sorted(templates)}"
    key = expr(project["encryption_key"])
    logs = expr(single_block(single_block(project, "logs_config"), "cloudwatch_logs")["group_name"]).removesuffix(".name")
    allowed = {f"${{{logs}.arn}}:*", "${module.artifacts.arn}/*", f"${{{key}}}"}
    for st in statements:
        assert st["Effect"] == "Allow" and "Condition" not in st, st
        assert set(st["Resource"]) <= allowed, f"the build role reaches {st['Resource']}"
        assert not any(a.startswith(("iam:", "sts:")) for a in st["Action"]), st
    # The key is the pipeline's own (a second modules/kms, only with CI/CD),
    # never the data key; the artifacts never a data bucket.
    assert root_values(CICD, key) == {"one(module.pipeline_kms[*].key_arn)"}
    pipeline_kms = load(INFRA).modules["pipeline_kms"]
    assert pipeline_kms["source"] == "./modules/kms" and pipeline_kms["name_prefix"] == "${var.name_prefix}-pipeline"
    assert expr(pipeline_kms["count"]) == "var.enable_cicd ? 1 : 0"
    for renders in policies.values():
        for r in renders:
            for _, e in r.args:
                for v in root_values(CICD, e):
                    assert not re.match(r"module\.(kms|storage)\.", v), f"{r.template}: {e} is {v}"
    assert cicd.modules["artifacts"]["source"] == "../storage/bucket"
    # Everything of the pipeline is encrypted with the pipeline key.
    assert expr(cicd.modules["artifacts"]["kms_key_arn"]) == key
    assert all(expr(g["kms_key_id"]) == key for g in cicd.of_type("aws_cloudwatch_log_group").values())
    assert all(expr(p["encryption_key"]) == key for p in cicd.of_type("aws_codebuild_project").values())
    store = single_block(pipeline(), "artifact_store")
    assert expr(single_block(store, "encryption_key")["id"]) == key
    # Nor is it told where the Terraform state is.
    assert "dynamic" not in single_block(project, "environment")


def test_plan_read_reads_no_data():
    policies, statements = stage_role_statements("Plan")
    templates = {r.template for renders in policies.values() for r in renders}
    assert templates == {"cicd-build-common.json.tftpl", "cicd-state.json.tftpl", "cicd-plan-read.json.tftpl"}
    # s3:Get* on the buckets' pattern matches their objects too: every object
    # read is denied but the artifacts' and the state's.
    (read,) = [r for r in renders_of("cicd-plan-read.json.tftpl")]
    statements = read.statements()
    denies = [st for st in statements if st["Effect"] == "Deny" and "s3:GetObject*" in st["Action"]]
    assert len(denies) == 1 and "Resource" not in denies[0] and "Condition" not in denies[0]
    assert set(denies[0]["NotResource"]) == {"${module.artifacts.arn}/*", "${local.state_object}", "${local.state_object}.tflock", "${var.config_objects_arn}"}
    # But the configuration objects Terraform uploads itself, which it reads
    # back (HeadObject, GetObjectTagging): the alert rules, and nothing else
    # of the lake.
    assert expr(load(INFRA).modules["cicd"]["config_objects_arn"]) == "${module.storage.curated_bucket_arn}/_config/*"
    assert alerts_module().of_type("aws_s3_object")["rules"]["key"].startswith("_config/")
    # The data key only through Lambda (the functions' environment).
    for st in statements:
        if st["Effect"] == "Allow" and any(a.startswith("kms:") and a not in ("kms:Get*", "kms:List*", "kms:Describe*", "kms:ListAliases") for a in st["Action"]):
            assert st["Action"] == ["kms:Decrypt"] and st["Resource"] == ["${var.data_key_arn}"], st
            assert st["Condition"] == {"StringEquals": {"kms:ViaService": "lambda.${var.region}.amazonaws.com"}}


def test_every_role_carries_the_permission_boundary():
    roles = 0
    for m in all_modules():
        for name, role in m.of_type("aws_iam_role").items():
            roles += 1
            assert "permissions_boundary" in role, f"{m.path.name}.{name} has no permissions_boundary"
            assert root_values(m.path, expr(role["permissions_boundary"])) == {"module.boundary.arn"}, f"{m.path.name}.{name}"
    assert roles >= 6, "the function roles, Firehose's, and the pipeline's build, plan, deploy and pipeline roles"
    boundary = load(BOUNDARY)
    assert expr(boundary.outputs["arn"]["value"]) == "aws_iam_policy.this.arn"
    assert not boundary.of_type("aws_iam_role")
    # It exists with or without CI/CD.
    call = load(INFRA).modules["boundary"]
    assert call["source"] == "./modules/boundary" and "count" not in call and "for_each" not in call


def test_the_boundary_denies_every_way_out():
    b = load(BOUNDARY)
    assert b.of_type("aws_iam_policy")["this"]["name"] == "${local.name}"
    assert b.locals["name"] == "${var.name_prefix}-boundary"
    # Its own ARN from its name (aws_iam_policy.this.arn in its own policy
    # would be a cycle), and the very policy the roles carry.
    assert b.locals["policy_arn"] == "arn:${var.partition}:iam::${var.account_id}:policy/${local.name}"
    render = boundary_render()
    assert dict(render.args)["boundary_arn"] == "local.policy_arn"
    me = "${local.policy_arn}"
    statements = render.statements()
    denies = [st for st in statements if st["Effect"] == "Deny"]

    def deny_of(action: str) -> dict:
        found = [st for st in denies if action in st["Action"]]
        assert len(found) == 1, f"the boundary must deny {action} once"
        return found[0]

    unbounded = deny_of("iam:CreateRole")
    assert {"iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy", "iam:DeleteRolePolicy"} <= set(unbounded["Action"])
    assert unbounded["Resource"] == ["*"]
    assert unbounded["Condition"] == {"StringNotEquals": {"iam:PermissionsBoundary": me}}
    removal = deny_of("iam:DeleteRolePermissionsBoundary")
    assert removal["Resource"] == ["*"] and "Condition" not in removal
    changes = deny_of("iam:CreatePolicyVersion")
    assert {"iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"} <= set(changes["Action"])
    assert changes["Resource"] == [me] and "Condition" not in changes
    identities = deny_of("iam:CreateUser")
    assert {"iam:CreateUser", "iam:CreateGroup", "iam:CreateAccessKey"} <= set(identities["Action"])
    assert identities["Resource"] == ["*"] and "Condition" not in identities
    # What it allows: the managed resources (and, with CI/CD, the state),
    # the actions AWS grants on no narrower resource, the OpenSearch
    # service-linked role.
    managed = list_value(BOUNDARY, "concat(local.managed_resources, local.state_resources, local.aws_resources)")
    for st in statements:
        if st["Effect"] == "Allow":
            assert st["Resource"] == managed or st["Sid"] in ("Unscoped", "OpenSearchServiceLinkedRole"), st["Sid"]
            assert "Condition" not in st
            assert not {"iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:AttachRolePolicy", "iam:CreateUser"} & set(st["Action"])
    # modules/cicd reads and writes the resources the boundary names.
    assert expr(b.outputs["managed_resources"]["value"]) == "local.managed_resources"
    assert expr(load(INFRA).modules["cicd"]["managed_resources"]) == "module.boundary.managed_resources"


def test_the_boundary_allows_what_the_roles_are_granted():
    import fnmatch

    allows = [st for st in boundary_render().statements() if st["Effect"] == "Allow"]
    scoped = [a for st in allows for a in st["Action"]]
    unscoped = [a for st in allows if st["Resource"] == ["*"] for a in st["Action"]]
    checked = 0
    for r in policy_renders():
        if r.template == "boundary.json.tftpl":
            continue
        for st in r.statements():
            if st["Effect"] != "Allow":
                continue
            for a in st["Action"]:
                checked += 1
                within = unscoped if st["Resource"] == ["*"] else scoped
                assert any(fnmatch.fnmatchcase(a, b) for b in within), f"{r.template}: {st['Sid']}: {a} is outside the boundary"
    assert checked > 150


def test_the_boundary_allows_reading_the_aws_log_sources_and_nothing_more():
    """The buckets AWS services write their logs to are not managed
    resources: the boundary's own statement for them (only with sources)
    allows exactly what fn-ingest's grants on them use, on the same ARNs."""
    (part,) = [r for r in renders_of("boundary-aws-logs.json.tftpl") if r.module == BOUNDARY]
    assert part.condition == "local.aws_logs" and expr(load(BOUNDARY).locals["aws_logs"]) == "length(var.aws_log_sources) > 0"
    (ceiling,) = part.statements()
    assert ceiling["Effect"] == "Allow" and "Condition" not in ceiling
    assert sorted(ceiling["Action"]) == ["kms:Decrypt", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]
    grants = [st for st in function_policy("fn-ingest", aws_logs=True) if st["Sid"] in ("ReadAwsLogs", "ListAwsLogs", "DecryptAwsLogs")]
    assert [st["Sid"] for st in grants] == ["ReadAwsLogs", "ListAwsLogs", "DecryptAwsLogs"]
    assert {a for st in grants for a in st["Action"]} == set(ceiling["Action"])
    assert {r for st in grants for r in st["Resource"]} == set(ceiling["Resource"])
    # The same sources: the root's aws_log_sources, to both modules.
    root = load(INFRA)
    assert expr(root.modules["boundary"]["aws_log_sources"]) == expr(root.modules["ingest"]["aws_log_sources"]) == "var.aws_log_sources"
    # Not managed resources: the pipeline's roles get nothing on them.
    assert "aws_log" not in json.dumps(load(BOUNDARY).locals["managed_resources"])
    assert "aws_log" not in json.dumps(load(BOUNDARY).locals["named_resources"])
    # IAM's 6,144 characters, measured at plan on the policy as rendered: a
    # deployment with too many sources stops there, saying why.
    policy = load(BOUNDARY).of_type("aws_iam_policy")["this"]
    assert expr(policy["policy"]) == "local.policy"
    (pre,) = single_block(policy, "lifecycle")["precondition"]
    assert expr(pre["condition"]) == "length(local.policy) <= 6144" and "aws_log_sources" in pre["error_message"]


def test_fn_ingest_reads_the_aws_log_sources_and_never_writes_them():
    """With aws_log_sources, fn-ingest's policy gets reading under each
    source's prefix, listing limited to the prefixes and decrypting through
    S3; without, none of it (function_policy's default)."""
    assert not [st for st in function_policy("fn-ingest", search=True, alerts=True) if "AwsLogs" in st["Sid"]]
    m = load(INFRA / "modules" / "ingest")
    assert expr(m.locals["aws_logs"]) == "length(var.aws_log_sources) > 0"
    assert expr(m.locals["aws_log_keys"]) == "length(local.aws_log_key_arns) > 0"
    own = {st["Sid"]: st for st in function_policy("fn-ingest", aws_logs=True)}
    source = "arn:${var.partition}:s3:::${s.bucket}"
    assert own["ReadAwsLogs"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert own["ReadAwsLogs"]["Resource"] == [source + "/${s.prefix}*"]
    assert own["ListAwsLogs"]["Action"] == ["s3:ListBucket"] and own["ListAwsLogs"]["Resource"] == [source]
    assert own["ListAwsLogs"]["Condition"] == {"StringLike": {"s3:prefix": ["${s.prefix}*"]}}
    assert own["DecryptAwsLogs"]["Action"] == ["kms:Decrypt"] and own["DecryptAwsLogs"]["Resource"] == ["${s.kms_key_arn}"]
    assert own["DecryptAwsLogs"]["Condition"] == {"StringEquals": {"kms:ViaService": "s3.${var.region}.amazonaws.com"}}
    # No other statement names those buckets.
    for sid, st in own.items():
        if sid not in ("ReadAwsLogs", "ListAwsLogs", "DecryptAwsLogs"):
            assert not any("s.bucket" in r or "s.kms_key_arn" in r for r in st["Resource"]), sid
    assert root_values(m.path, "var.partition") == {"data.aws_partition.current.partition"}
    assert root_values(m.path, "var.region") == {"var.region"}


ROLE_WRITES = {
    "iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary",
    "iam:AttachRolePolicy", "iam:DetachRolePolicy",
}


def test_the_deploy_role_creates_roles_only_with_the_boundary_and_passes_only_named_roles():
    import fnmatch

    _, statements = stage_role_statements("Deploy", "Apply")
    boundary = "${var.permissions_boundary}"
    assert root_values(CICD, "var.permissions_boundary") == {"module.boundary.arn"}
    writes, passes = set(), {}
    for st in statements:
        if st["Effect"] != "Allow":
            continue
        covers = lambda action: any(fnmatch.fnmatchcase(action, a) for a in st["Action"])  # noqa: E731
        if granted := {w for w in ROLE_WRITES if covers(w)}:
            writes |= granted
            assert st.get("Condition") == {"StringEquals": {"iam:PermissionsBoundary": boundary}}, f"{st['Sid']}: {sorted(granted)} without the boundary"
        if covers("iam:PassRole"):
            assert st["Action"] == ["iam:PassRole"], st["Sid"]
            service = st.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService")
            assert service and len(st["Condition"]) == 1 and len(st["Condition"]["StringEquals"]) == 1, f"{st['Sid']}: PassRole to any service"
            passes.setdefault(service, []).append(st["Resource"])
        assert not covers("iam:DeleteRolePermissionsBoundary") and not covers("iam:CreatePolicyVersion"), st["Sid"]
    assert {"iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary"} <= writes
    # Lambda: exactly the function roles, named as modules/lambda names them.
    lam = load(LAMBDA_MODULE)
    assert lam.of_type("aws_iam_role")["this"]["name"] == "${local.name}" and lam.locals["name"] == "${var.name_prefix}-${var.binary}"
    (functions,) = passes.pop("lambda.amazonaws.com")
    role = "${local.arn}:iam::${var.account_id}:role/${local.p}-"
    assert all(r.startswith(role) for r in functions), functions
    assert {r.removeprefix(role) for r in functions} == set(function_calls())
    # Firehose's delivery role, and the pipeline's own: each to its service
    # (the three CodeBuild roles in one statement, which keeps the deploy
    # role's inline policies under IAM's 10,240 characters with three
    # collect regions' keys in the boundary).
    stream = load(INFRA / "modules" / "stream")
    assert stream.of_type("aws_iam_role")["firehose"]["name"] == "${var.name_prefix}-firehose"
    assert passes.pop("firehose.amazonaws.com") == [[role + "firehose"]]
    assert passes.pop("codebuild.amazonaws.com") == [["${aws_iam_role.build.arn}", "${aws_iam_role.plan.arn}", "${aws_iam_role.deploy.arn}", "${aws_iam_role.release.arn}"]]
    assert passes.pop("codepipeline.amazonaws.com") == [["${aws_iam_role.pipeline.arn}"]]
    # CodeDeploy's service role (modules/codedeploy), which creating and
    # updating the deployment groups passes, to CodeDeploy only.
    codedeploy = load(INFRA / "modules" / "codedeploy")
    assert codedeploy.of_type("aws_iam_role")["this"]["name"] == "${var.name_prefix}-codedeploy"
    assert passes.pop("codedeploy.amazonaws.com") == [[role + "codedeploy"]]
    assert not passes, f"PassRole to {sorted(passes)}"
    # The projects and the pipeline use those very roles.
    cicd = load(CICD)
    assert {expr(p["service_role"]) for p in cicd.of_type("aws_codebuild_project").values()} == {f"aws_iam_role.{r}.arn" for r in ("build", "plan", "deploy", "release")}
    assert expr(pipeline()["role_arn"]) == "aws_iam_role.pipeline.arn"


def test_no_policy_names_every_key():
    resources = 0
    for where, st in policy_statements():
        for key in ("resources", "not_resources"):
            values = st.get(key) or []
            for r in [values] if isinstance(values, str) else values:
                resources += 1
                assert not re.search(r"(^|:)key/\*", r), f"{where}: {r} is every key in the region"
    assert resources > 100
    for f in [*INFRA.rglob("*.tf"), *POLICIES.glob("*.tftpl")]:
        assert not re.search(r":key/\*", f.read_text()), f"{f}: names key/*"
    # The managed resources name the project's keys: the data key and, with
    # CI/CD, the pipeline's.
    keys = [r for r in list_value(BOUNDARY, "local.managed_resources") if ":kms:" in r or "kms" in r.split(":")[0]]
    assert "${module.kms.key_arn}" in keys and "${module.pipeline_kms[*].key_arn}" in keys


# IAM quotas: a managed policy holds 6,144 characters, a role's inline
# policies 10,240 together (whitespace not counted). Measured with the
# longest names a deployment may have.
WORST_CASE = {
    r"\$\{local\.arn\}": "arn:aws-us-gov",
    r"\$\{var\.partition\}": "aws-us-gov",
    r"\$\{local\.at\}": "ap-southeast-2:123456789012",
    r"\$\{var\.(account_id|region)\}": "ap-southeast-2",
    r"\$\{(local\.p|var\.name_prefix)\}": "a" * 21,
    r"\$\{replace\(local\.p[^}]*\}": "a" * 21,
    r"\$\{local\.name\}": "a" * 21 + "-boundary",
    r"\$\{[^}]*kms[^}]*\}": "arn:aws-us-gov:kms:ap-southeast-2:123456789012:key/12345678-1234-1234-1234-123456789012",
    r"\$\{aws_iam_role\.(\w+)\.arn\}": "arn:aws-us-gov:iam::123456789012:role/" + "a" * 21 + "-pipeline-deploy",
    r"\$\{[^}]*\}": "arn:aws-us-gov:s3:::" + "a" * 21 + "-pipeline-123456789012-ap-southeast-2",
}


def worst_case_size(renders: list[PolicyRender]) -> int:
    text = json.dumps({"Version": "2012-10-17", "Statement": [st for r in renders for st in r.statements()]}, separators=(",", ":"))
    for pattern, value in WORST_CASE.items():
        text = re.sub(pattern, value, text)
    return len(text)


def test_the_pipeline_policies_fit_the_iam_quotas():
    assert worst_case_size([boundary_render()]) <= 6144
    for name in load(CICD).of_type("aws_iam_policy"):
        assert worst_case_size(policy_of(CICD, f"aws_iam_policy.{name}")) <= 6144, name
    for role in load(CICD).of_type("aws_iam_role"):
        inline = [r for k, rs in role_renders(CICD, role).items() if not k.startswith("aws_iam_policy.") for r in rs]
        assert sum(worst_case_size([r]) for r in inline) <= 10240, role



def test_search_setup_imports_the_dashboards_with_overwrite():
    # search/dashboards.ndjson through the Dashboards saved objects import,
    # overwriting, re-run when the file changes; the script itself runs
    # against the test server in tests/test_dashboards.py.
    m = load(INFRA / "modules" / "search-setup")
    source = expr(m.locals["dashboards"])
    (path,) = re.findall(r'file\("\$\{path\.module\}/([^"]+)"\)', source)
    assert (INFRA / "modules" / "search-setup" / path).resolve() == ROOT / "search" / "dashboards.ndjson"
    assert re.search(r'"logs-\*",\s*local\.pattern\)$', source), source
    (imp,) = m.of_type("terraform_data").values()
    assert expr(imp["triggers_replace"]["objects"]) == "sha256(local.dashboards)"
    (provisioner,) = imp["provisioner"]
    run = provisioner["local-exec"]
    assert expr(run["environment"]["DASHBOARDS"]) == "local.dashboards"
    script = run["command"]
    assert "/_dashboards/api/saved_objects/_import?overwrite=true" in script
    assert "--header 'osd-xsrf: true'" in script and '--aws-sigv4 "aws:amz:$REGION:es"' in script
    assert "--data-binary" in script and not re.search(r"\s(-F|--form)\s", script), "curl signs -F bodies wrongly"
