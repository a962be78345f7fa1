"""The alert rules and saved queries for AWS's own logs do what they say.

A small lake is made from logs shaped as AWS writes them (a CloudTrail
`{"Records":[...]}` document under AWS's key layout, AWS WAF and Route 53
Resolver JSON lines, a VPC Flow Logs file), holding one incident for each
rule of examples/alerts-aws.toml and, beside it, what must not alert (root's
service events, sign-ins with MFA, a principal refused a few times only).

- `loglake alerts check` accepts examples/alerts-aws.toml, and the rules
  docs/alerts.md shows under "Rules for AWS's logs" are that file's;
- `loglake alerts eval` over the lake fires each rule, for the group it
  should, and nothing else;
- every saved Athena query of infra/modules/catalog over the logs table
  parses as Trino and runs in DuckDB (sqlglot's translation) on the lake,
  and the CloudTrail, WAF and VPC ones answer with the incidents' rows.
"""
import gzip
import json
import os
import re
import subprocess
import textwrap
import tomllib
from pathlib import Path

import duckdb
import hcl2
import pyarrow as pa
import pytest
import sqlglot

ROOT = Path(__file__).resolve().parent.parent
BIN = os.environ.get("LOGLAKE_BIN", "target/release/loglake")
RULES = ROOT / "examples" / "alerts-aws.toml"
ACCOUNT = "111122223333"
DAY = "2024-05-02"
DEV = f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/dev"
OPS = f"arn:aws:sts::{ACCOUNT}:assumed-role/Ops/ops"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
MARY = f"arn:aws:iam::{ACCOUNT}:user/mary"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
DENIED_BY_DEV = 25
WAF_BLOCKS = 120
NXDOMAINS = 250


def at(minute, second=0):
    return f"{DAY}T08:{minute:02d}:{second:02d}Z"


def trail_event(n, when, name, source, identity, event_type="AwsApiCall", **more):
    rec = {
        "eventVersion": "1.09", "userIdentity": identity, "eventTime": when, "eventSource": source,
        "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.%d" % (n % 200 + 1),
        "userAgent": "aws-cli/2.15.0 Python/3.11.6", "requestParameters": None, "responseElements": None,
        "requestID": "req-%06d" % n, "eventID": "evt-%06d" % n, "readOnly": False, "eventType": event_type,
        "managementEvent": True, "recipientAccountId": ACCOUNT, "eventCategory": "Management",
    }
    rec.update(more)
    return rec


def role(arn):
    return {"type": "AssumedRole", "principalId": "AROAEXAMPLE:" + arn.rsplit("/", 1)[1], "arn": arn,
            "accountId": ACCOUNT}


def user(arn):
    return {"type": "IAMUser", "principalId": "AIDAEXAMPLE" + arn.rsplit("/", 1)[1].upper(), "arn": arn,
            "accountId": ACCOUNT, "userName": arn.rsplit("/", 1)[1]}


ROOT_IDENTITY = {"type": "Root", "principalId": ACCOUNT, "arn": ROOT_ARN, "accountId": ACCOUNT}


def console_login(n, when, identity, mfa, result="Success"):
    return trail_event(n, when, "ConsoleLogin", "signin.amazonaws.com", identity, "AwsConsoleSignIn",
                       userAgent="Mozilla/5.0 (X11; Linux x86_64)",
                       responseElements={"ConsoleLogin": result},
                       additionalEventData={"LoginTo": "https://console.aws.amazon.com/console/home",
                                            "MobileVersion": "No", "MFAUsed": mfa})


def cloudtrail_records():
    recs = [
        # Root signs in without MFA: both instant rules.
        console_login(1, at(0, 10), ROOT_IDENTITY, "No"),
        # Mary without MFA (the MFA rule), Bob with MFA and a failed sign-in
        # without (neither).
        console_login(2, at(0, 20), user(MARY), "No"),
        console_login(3, at(0, 30), user(BOB), "Yes"),
        console_login(4, at(0, 40), user(BOB), "No", result="Failure"),
        # AWS acting on the root account is not use of root.
        trail_event(5, at(6, 0), "CreateServiceLinkedRole", "iam.amazonaws.com", ROOT_IDENTITY, "AwsServiceEvent",
                    sourceIPAddress="iam.amazonaws.com"),
    ]
    n = 100
    # Dev refused 25 times in two minutes: the burst. Ops 5 times: not.
    for i in range(DENIED_BY_DEV):
        n += 1
        recs.append(trail_event(n, at(1 + i // 13, i % 13 * 4), ["CreateUser", "AttachRolePolicy"][i % 2],
                                "iam.amazonaws.com", role(DEV), errorCode="AccessDenied",
                                errorMessage="User: %s is not authorized to perform this action" % DEV))
    for i in range(5):
        n += 1
        recs.append(trail_event(n, at(2, i * 7), "RunInstances", "ec2.amazonaws.com", role(OPS),
                                errorCode="Client.UnauthorizedOperation",
                                errorMessage="You are not authorized to perform this operation."))
    for i in range(40):
        n += 1
        recs.append(trail_event(n, at(3 + i // 20, i % 20 * 3), "GetObject", "s3.amazonaws.com", role(OPS),
                                readOnly=True))
    return recs


def waf_line(i, when_ms, action, ip, rule, uri):
    return json.dumps({
        "timestamp": when_ms, "formatVersion": 1,
        "webaclId": f"arn:aws:wafv2:us-east-1:{ACCOUNT}:regional/webacl/shop/0f1e2d3c",
        "terminatingRuleId": rule, "terminatingRuleType": "MANAGED_RULE_GROUP" if rule != "Default_Action" else "REGULAR",
        "action": action, "terminatingRuleMatchDetails": [], "httpSourceName": "ALB",
        "httpSourceId": f"{ACCOUNT}-app/shop/50dc6c495c0c9188", "ruleGroupList": [], "rateBasedRuleList": [],
        "nonTerminatingMatchingRules": [], "requestHeadersInserted": None,
        "responseCodeSent": 403 if action == "BLOCK" else None,
        "httpRequest": {"clientIp": ip, "country": {"203.0.113.9": "NL", "203.0.113.10": "BR"}.get(ip, "US"),
                        "headers": [{"name": "Host", "value": "shop.example.com"},
                                    {"name": "User-Agent", "value": "sqlmap/1.7" if action == "BLOCK" else "Mozilla/5.0"}],
                        "uri": uri, "args": "id=1%27%20OR%201=1" if action == "BLOCK" else "", "httpVersion": "HTTP/1.1",
                        "httpMethod": "GET", "requestId": "1-663347%02x-%024x" % (i % 256, i)},
    }, separators=(",", ":"))


def waf_lines():
    base = 1714636800000 + 5 * 60_000  # 08:05:00
    out = []
    # 120 blocks within 08:05, mostly from one address.
    for i in range(WAF_BLOCKS):
        ip = "203.0.113.9" if i % 4 else "203.0.113.10"
        rule = "AWS-AWSManagedRulesSQLiRuleSet" if i % 6 else "AWS-AWSManagedRulesKnownBadInputsRuleSet"
        out.append(waf_line(i, base + i * 400, "BLOCK", ip, rule, "/login"))
    # Ordinary traffic over ten minutes.
    for i in range(60):
        out.append(waf_line(1000 + i, base + i * 10_000, "ALLOW", "192.0.2.%d" % (i % 20 + 1), "Default_Action",
                            "/products/%d" % i))
    return "\n".join(out) + "\n"


def resolver_line(i, when, name, rcode, src):
    return json.dumps({
        "version": "1.100000", "account_id": ACCOUNT, "region": "us-east-1", "vpc_id": "vpc-0abc123",
        "query_timestamp": when, "query_name": name, "query_type": "A", "query_class": "IN", "rcode": rcode,
        "answers": [] if rcode != "NOERROR" else [{"Rdata": "192.0.2.44", "Type": "A", "Class": "IN"}],
        "srcaddr": src, "srcport": str(40000 + i % 20000), "transport": "UDP",
        "srcids": {"instance": "i-0a1b2c3d4e5f%05d" % (int(src.rsplit(".", 1)[1]))},
    }, separators=(",", ":"))


def resolver_lines():
    out = []
    # One instance resolving 250 generated names in four minutes.
    for i in range(NXDOMAINS):
        out.append(resolver_line(i, at(10 + i // 63, i % 63 % 60), "x%08x.example.net." % (i * 2654435761 % 2**32),
                                 "NXDOMAIN", "10.0.1.23"))
    for i in range(30):
        out.append(resolver_line(1000 + i, at(10 + i // 10, i * 2 % 60), "api.shop.example.com.", "NOERROR",
                                 "10.0.1.%d" % (40 + i % 3)))
    return "\n".join(out) + "\n"


def vpcflow_lines():
    head = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
    start = 1714636800
    out = [head]
    for i in range(30):
        out.append(f"2 {ACCOUNT} eni-0a1b2c3d 198.51.100.77 10.0.1.5 {50000 + i} {[22, 3389, 5432][i % 3]} 6 1 40 "
                   f"{start + i * 10} {start + i * 10 + 60} REJECT OK")
    for i in range(10):
        out.append(f"2 {ACCOUNT} eni-0a1b2c3d 10.0.1.5 10.0.2.9 {40000 + i} 443 6 10 8400 {start + i * 30} "
                   f"{start + i * 30 + 60} ACCEPT OK")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    d = tmp_path_factory.mktemp("aws-alerts")
    trail = d / "logs" / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / "2024" / "05" / "02"
    trail.mkdir(parents=True)
    trail = trail / f"{ACCOUNT}_CloudTrail_us-east-1_20240502T0810Z_a1b2c3.json.gz"
    with gzip.open(trail, "wt") as f:
        # As CloudTrail writes it: one object, no whitespace.
        json.dump({"Records": cloudtrail_records()}, f, separators=(",", ":"))
    # WAF and Resolver named by their content, the flow log by its header.
    (d / "logs" / "waf.log").write_text(waf_lines())
    (d / "logs" / "resolver.log").write_text(resolver_lines())
    (d / "logs" / "flows.log").write_text(vpcflow_lines())
    out = subprocess.run([BIN, "ingest", str(d / "logs"), "--lake", str(d / "lake"), "--json"],
                         check=True, capture_output=True, text=True)
    manifests = [json.loads(p.read_text()) for p in (d / "lake" / "_manifests").glob("*.json")]
    return {"dir": d / "lake", "ingest": json.loads(out.stdout), "manifests": manifests}


def test_the_lake_holds_each_format(lake):
    formats = {Path(m["source"]["uri"]).name: m["format"] for m in lake["manifests"]}
    assert sorted(formats.values()) == ["cloudtrail", "route53resolver", "vpcflow", "waf"], formats
    for m in lake["manifests"]:
        assert m["quarantined"] == 0, m
    assert lake["ingest"]["rows_out"] == len(cloudtrail_records()) + WAF_BLOCKS + 60 + NXDOMAINS + 30 + 40


# --- the rules ----------------------------------------------------------------


def test_the_rules_file_checks():
    run = subprocess.run([BIN, "alerts", "check", "--rules", str(RULES)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    names = [r["name"] for r in tomllib.loads(RULES.read_text())["rule"]]
    assert f"{len(names)} rules" in run.stdout
    for name in names:
        assert name in run.stdout, name


def test_the_docs_show_the_rules_of_the_file():
    """Each rule docs/alerts.md shows for AWS's logs is the file's, as written."""
    text = (ROOT / "docs" / "alerts.md").read_text()
    section = text.split("\n## Rules for AWS's logs\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.S)
    assert blocks, "docs/alerts.md: Rules for AWS's logs shows no ```toml block"
    shown = [r for b in blocks for r in tomllib.loads(b)["rule"]]
    in_file = {r["name"]: r for r in tomllib.loads(RULES.read_text())["rule"]}
    assert sorted(r["name"] for r in shown) == sorted(in_file)
    for r in shown:
        assert r == in_file[r["name"]], f"docs/alerts.md shows {r['name']} unlike {RULES.relative_to(ROOT)}"


@pytest.fixture(scope="module")
def fired(lake):
    run = subprocess.run([BIN, "alerts", "eval", "--lake", str(lake["dir"]), "--rules", str(RULES), "--json"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    # A first line of what was read, then one notification per line.
    notes = [json.loads(l) for l in run.stdout.splitlines() if l.startswith("{")]
    assert notes, run.stdout + run.stderr
    return notes


def body_of(note):
    """The SNS message's JSON body."""
    body = note["body"]
    return json.loads(body) if isinstance(body, str) else body


def firings(notes):
    """(rule, group value) of every firing notification."""
    return [(b["rule"], b["group"]["value"]) for b in map(body_of, notes) if b["state"] == "firing"]


def test_each_rule_fires_for_its_incident_and_nothing_else(fired):
    got = sorted(set(firings(fired)))
    assert got == sorted([
        ("aws-root-account-use", ROOT_ARN),
        ("aws-console-login-without-mfa", ROOT_ARN),
        ("aws-console-login-without-mfa", MARY),
        ("aws-access-denied-burst", DEV),
        ("waf-blocks-per-minute", "waf"),
        ("dns-nxdomain-spike", "10.0.1.23"),
    ]), json.dumps([body_of(n) for n in fired], indent=1)[:4000]


def test_root_is_announced_once_with_its_sign_in(fired):
    root = [body_of(n) for n in fired if body_of(n)["rule"] == "aws-root-account-use"]
    assert len(root) == 1, root
    text = json.dumps(root[0])
    assert "ConsoleLogin by Root" in text and "CreateServiceLinkedRole" not in text


# --- the saved queries ------------------------------------------------------------


def named_queries():
    with (ROOT / "infra" / "modules" / "catalog" / "main.tf").open() as f:
        doc = hcl2.load(f)
    for block in doc.get("locals", []):
        if "named_queries" in block:
            queries = block["named_queries"]
            out = {}
            for name, q in queries.items():
                # python-hcl2 keeps the quotes and the heredoc's markers.
                sql = q["query"]
                sql = sql[1:-1] if sql[:1] == sql[-1:] == '"' else sql
                sql = textwrap.dedent(re.sub(r"^<<-?(\w+)\n(.*)\n\s*\1\s*$", r"\2", sql, flags=re.S))
                out[name.strip('"')] = sql
            return out
    raise AssertionError("infra/modules/catalog has no local named_queries")


LOGS_QUERIES = {n: q for n, q in named_queries().items() if "${local.logs}" in q}
AWS_QUERIES = [n for n in LOGS_QUERIES if n.startswith(("cloudtrail-", "waf-", "vpc-"))]


def test_the_aws_queries_are_there():
    assert sorted(AWS_QUERIES) == sorted([
        "cloudtrail-access-denied-by-principal-for-a-day",
        "cloudtrail-console-logins-without-mfa-for-a-day",
        "cloudtrail-root-account-use-for-a-day",
        "waf-top-blocked-ips-for-a-day",
        "waf-top-terminating-rules-for-a-day",
        "vpc-top-rejected-sources-for-a-day",
    ])


@pytest.fixture(scope="module")
def con(lake):
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    # dt and hr are strings in Glue, as here.
    c.execute(f"CREATE VIEW logs AS SELECT * FROM read_parquet('{lake['dir']}/logs/**/*.parquet', "
              "hive_partitioning = true, hive_types = {'dt': VARCHAR, 'hr': VARCHAR})")
    return c


def run_query(con, name):
    """The saved query's rows as dicts (timestamps left out), for dt = DAY
    (and hr = '08')."""
    trino = LOGS_QUERIES[name].replace("${local.logs}", "logs")
    tree = sqlglot.parse_one(trino, read="trino")
    # The parameters in order: dt, then hr.
    params = [DAY, "08"][: len(list(tree.find_all(sqlglot.exp.Placeholder)))]
    t = con.sql(tree.sql(dialect="duckdb"), params=params).to_arrow_table()
    t = t.drop_columns([f.name for f in t.schema if pa.types.is_timestamp(f.type)])
    return t.to_pylist()


@pytest.mark.parametrize("name", sorted(LOGS_QUERIES))
def test_every_saved_query_over_the_logs_runs(con, name):
    rows = run_query(con, name)
    if name in AWS_QUERIES:
        assert rows, f"{name} answers nothing on AWS's logs"


def test_access_denied_by_principal(con):
    rows = run_query(con, "cloudtrail-access-denied-by-principal-for-a-day")
    assert {r["user_id"] for r in rows[:2]} == {DEV}, rows
    assert rows[0]["denied_for_principal"] == DENIED_BY_DEV
    assert {(r["service"], r["event_type"], r["denied"]) for r in rows if r["user_id"] == DEV} == {
        ("iam.amazonaws.com", "CreateUser", 13), ("iam.amazonaws.com", "AttachRolePolicy", 12)}
    assert [(r["user_id"], r["event_type"], r["denied"]) for r in rows if r["user_id"] != DEV] == [
        (OPS, "RunInstances", 5)]


def test_console_logins_without_mfa(con):
    rows = run_query(con, "cloudtrail-console-logins-without-mfa-for-a-day")
    assert sorted((r["user_id"], r["identity_type"], r["logins"]) for r in rows) == [
        (ROOT_ARN, "Root", 1), (MARY, "IAMUser", 1)]


def test_root_account_use(con):
    rows = run_query(con, "cloudtrail-root-account-use-for-a-day")
    assert [(r["service"], r["event_type"], r["cloudtrail_event_type"]) for r in rows] == [
        ("signin.amazonaws.com", "ConsoleLogin", "AwsConsoleSignIn")]


def test_waf_top_blocked_ips(con):
    rows = run_query(con, "waf-top-blocked-ips-for-a-day")
    assert [(r["client_ip"], r["country"], r["blocked"], r["rules"]) for r in rows] == [
        ("203.0.113.9", "NL", 90, 2), ("203.0.113.10", "BR", 30, 2)]


def test_waf_top_terminating_rules(con):
    rows = run_query(con, "waf-top-terminating-rules-for-a-day")
    assert [(r["terminating_rule"], r["action"], r["requests"]) for r in rows] == [
        ("AWS-AWSManagedRulesSQLiRuleSet", "BLOCK", 100),
        ("Default_Action", "ALLOW", 60),
        ("AWS-AWSManagedRulesKnownBadInputsRuleSet", "BLOCK", 20),
    ]


def test_vpc_top_rejected_sources(con):
    rows = run_query(con, "vpc-top-rejected-sources-for-a-day")
    assert [(r["srcaddr"], r["rejected_flows"], r["ports"]) for r in rows] == [("198.51.100.77", 30, 3)]
